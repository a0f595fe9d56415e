/** The desk app: sign-in, the session, the live-update loop, and the views (inbox, metrics, agents). */
import { html } from 'htm/preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { Changes, InboxItem, Me, Queue } from '../contract';
import { ApiError, errorText, get, post, setCsrf, setUnauthorizedHandler } from './api';
import { Agents } from './admin';
import { Inbox } from './inbox';
import { Metrics } from './metrics';
import { Person } from './person';
import { SignIn } from './signin';
import { cx, syncClock } from './util';

type View = 'inbox' | 'metrics' | 'agents';
type Live = 'live' | 'reconnecting' | 'off';

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });

/** Takes `#signin=<token>` out of the address bar (so it is not kept in history) and returns the token. */
function takeSignInToken(): string | null {
  const match = /(?:^#|&)signin=([^&]+)/.exec(location.hash);
  if (!match) return null;
  history.replaceState(history.state, '', location.pathname + location.search);
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return match[1];
  }
}

export function App() {
  const [phase, setPhase] = useState<'boot' | 'signin' | 'ready'>('boot');
  const [me, setMe] = useState<Me | null>(null);
  const [signinError, setSigninError] = useState('');
  const [linkBusy, setLinkBusy] = useState(false);
  const [view, setView] = useState<View>('inbox');
  const [queue, setQueue] = useState<Queue>('waiting');
  const [selected, setSelected] = useState<{ contactId: string; conversationId: string | null } | null>(null);
  const [inboxVersion, setInboxVersion] = useState(0);
  const [personVersion, setPersonVersion] = useState(0);
  const [toast, setToast] = useState('');
  const [live, setLive] = useState<Live>('off');
  const seq = useRef<number | null>(null);
  const openContact = useRef<string | null>(null);
  openContact.current = selected?.contactId ?? null;

  const signedIn = useCallback((m: Me) => {
    setCsrf(m.csrf);
    syncClock(m.now);
    setMe(m);
    setSigninError('');
    setPhase('ready');
  }, []);

  const signedOut = useCallback((message: string) => {
    setCsrf('');
    setMe(null);
    setSelected(null);
    seq.current = null;
    setSigninError(message);
    setPhase('signin');
  }, []);

  // Boot: a sign-in link in the fragment, else the current session.
  useEffect(() => {
    setUnauthorizedHandler(() => signedOut('Your session has ended. Please sign in again.'));
    const token = takeSignInToken();
    if (token) {
      setLinkBusy(true);
      setPhase('signin');
      post('signin-link', { token })
        .then((m) => signedIn(m as Me))
        .catch((err) => setSigninError(`This sign-in link did not work: ${errorText(err)}`))
        .finally(() => setLinkBusy(false));
      return;
    }
    get<Me>('me')
      .then(signedIn)
      .catch((err) => {
        setPhase('signin');
        if (!(err instanceof ApiError && err.status === 401)) setSigninError(errorText(err));
        else setSigninError('');
      });
  }, []);

  // Live updates: long polling on op=changes, backing off on errors.
  useEffect(() => {
    if (phase !== 'ready') return;
    const ctrl = new AbortController();
    (async () => {
      let backoff = 1000;
      while (!ctrl.signal.aborted) {
        const since = seq.current;
        if (since === null) {
          await sleep(300, ctrl.signal);
          continue;
        }
        const started = Date.now();
        setLive((l) => (l === 'off' ? 'live' : l));
        try {
          const c = await get<Changes>('changes', { since, wait: 25 }, ctrl.signal);
          if (ctrl.signal.aborted) break;
          backoff = 1000;
          setLive('live');
          const changed = c.seq !== since || c.many || c.contactIds.length > 0;
          seq.current = Math.max(seq.current ?? 0, c.seq);
          if (changed) {
            setInboxVersion((v) => v + 1);
            if (openContact.current && (c.many || c.contactIds.includes(openContact.current))) setPersonVersion((v) => v + 1);
          }
          // A server that answers at once without waiting must not be hammered.
          if (Date.now() - started < 1000 && !changed) await sleep(1000, ctrl.signal);
        } catch (err) {
          if (ctrl.signal.aborted) break;
          if (err instanceof ApiError && err.status === 401) break;
          setLive('reconnecting');
          await sleep(err instanceof ApiError && err.retryAfter ? err.retryAfter * 1000 : backoff, ctrl.signal);
          backoff = Math.min(backoff * 2, 30_000);
        }
      }
    })();
    return () => {
      ctrl.abort();
      setLive('off');
    };
  }, [phase]);

  // Toasts fade after a while.
  useEffect(() => {
    if (!toast) return;
    const t = setTimeout(() => setToast(''), 8000);
    return () => clearTimeout(t);
  }, [toast]);

  const onSeq = useCallback((s: number) => {
    seq.current = seq.current === null ? s : Math.max(seq.current, s);
  }, []);
  const refresh = useCallback(() => {
    setInboxVersion((v) => v + 1);
    setPersonVersion((v) => v + 1);
  }, []);
  const select = useCallback((item: InboxItem) => setSelected({ contactId: item.contactId, conversationId: item.conversationId }), []);

  async function signOut() {
    try {
      await post('signout', {});
    } catch {
      // signed out either way
    }
    signedOut('');
  }

  if (phase === 'boot') return html`<div class="boot" aria-busy="true">Loading the desk…</div>`;
  if (phase === 'signin' || !me) return html`<${SignIn} onSignedIn=${signedIn} error=${signinError} busy=${linkBusy} />`;

  const isAdmin = me.agent.role === 'admin';
  const tabs: [View, string][] = [['inbox', 'Inbox'], ['metrics', 'Metrics'], ...(isAdmin ? [['agents', 'Agents'] as [View, string]] : [])];

  return html`
    <div class="app">
      <header class="topbar">
        <div class="brand"><span class="logo" aria-hidden="true">◎</span> Omnithread Desk</div>
        <nav class="nav" aria-label="Views">
          ${tabs.map(
            ([v, label]) => html`<button key=${v} type="button" class=${cx('nav-tab', view === v && 'active')} aria-current=${view === v ? 'page' : undefined}
              onClick=${() => setView(v)} data-test=${`nav-${v}`}>${label}</button>`,
          )}
        </nav>
        <div class="me">
          <span class=${cx('live-ind', live)} title=${live === 'live' ? 'Live updates on' : live === 'reconnecting' ? 'Reconnecting…' : 'Live updates off'} data-test="live">
            ${live === 'live' ? 'Live' : live === 'reconnecting' ? 'Reconnecting…' : ''}
          </span>
          <span class="me-name" data-test="me-name">${me.agent.name}</span>
          <span class="badge">${me.agent.role}</span>
          <button type="button" class="btn small subtle" onClick=${signOut} data-test="signout">Sign out</button>
        </div>
      </header>
      ${toast &&
      html`<div class="toast" role="alert" data-test="toast">
        <span>${toast}</span><button type="button" class="btn small subtle" onClick=${() => setToast('')} aria-label="Dismiss">✕</button>
      </div>`}
      ${view === 'inbox' &&
      html`<div class="workspace">
        <${Inbox} me=${me} queue=${queue} onQueue=${setQueue} selectedConversationId=${selected?.conversationId ?? null} onSelect=${select}
          version=${inboxVersion} onSeq=${onSeq} />
        ${selected
          ? html`<${Person} key=${selected.contactId} me=${me} contactId=${selected.contactId} conversationId=${selected.conversationId}
              onConversation=${(id: string) => setSelected({ contactId: selected.contactId, conversationId: id })}
              version=${personVersion} onChanged=${refresh} onError=${setToast} />`
          : html`<section class="person empty-state" data-test="no-person"><p>Pick a conversation on the left.</p></section><aside class="side"></aside>`}
      </div>`}
      ${view === 'metrics' && html`<${Metrics} me=${me} />`}
      ${view === 'agents' && isAdmin && html`<${Agents} me=${me} />`}
    </div>
  `;
}
