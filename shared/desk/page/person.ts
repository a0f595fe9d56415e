/** The person view (main and right columns): header, actions, the timeline by episode, composer, identities. */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { EpisodeView, Me, PersonView } from '../contract';
import { errorText, get } from './api';
import { Actions, Composer } from './composer';
import { IdentityPanel } from './identity';
import { Episode } from './timeline';
import { ChannelIcon, initials } from './util';

/** Older pages merged into the newest: episodes by conversation, events by id, in order. */
export function mergeEpisodes(a: EpisodeView[], b: EpisodeView[]): EpisodeView[] {
  const byId = new Map<string, EpisodeView>();
  for (const ep of [...a, ...b]) {
    const old = byId.get(ep.conversationId);
    if (!old) {
      byId.set(ep.conversationId, ep);
      continue;
    }
    const events = new Map(old.events.map((e) => [e.id, e]));
    for (const e of ep.events) events.set(e.id, e);
    // The later read (b) wins for the episode's state.
    byId.set(ep.conversationId, { ...old, ...ep, events: [...events.values()].sort((x, y) => x.seq - y.seq || x.occurredAt.localeCompare(y.occurredAt)) });
  }
  return [...byId.values()].sort((x, y) => x.openedAt.localeCompare(y.openedAt));
}

export interface PersonProps {
  me: Me;
  contactId: string;
  /** The conversation picked in the inbox (actions apply to it); null: the newest episode. */
  conversationId: string | null;
  onConversation: (id: string) => void;
  version: number;
  /** After a write: refresh the person and the inbox. */
  onChanged: () => void;
  onError: (msg: string) => void;
}

export function Person({ me, contactId, conversationId, onConversation, version, onChanged, onError }: PersonProps) {
  const [person, setPerson] = useState<PersonView | null>(null);
  const [older, setOlder] = useState<{ episodes: EpisodeView[]; nextBefore: string | null } | null>(null);
  const [error, setError] = useState('');
  const [loadingOlder, setLoadingOlder] = useState(false);
  const request = useRef(0);
  const scroller = useRef<HTMLDivElement>(null);
  const lastContact = useRef('');

  useEffect(() => {
    const id = ++request.current;
    const switched = lastContact.current !== contactId;
    lastContact.current = contactId;
    if (switched) {
      setPerson(null);
      setOlder(null);
    }
    get<PersonView>('person', { contactId })
      .then((p) => {
        if (id !== request.current) return;
        const el = scroller.current;
        const atBottom = !el || el.scrollHeight - el.scrollTop - el.clientHeight < 120;
        setPerson(p);
        setError('');
        if (switched || atBottom) requestAnimationFrame(() => scroller.current && (scroller.current.scrollTop = scroller.current.scrollHeight));
      })
      .catch((err) => id === request.current && setError(errorText(err)));
  }, [contactId, version]);

  async function loadOlder() {
    const before = older ? older.nextBefore : person?.nextBefore;
    if (!before) return;
    setLoadingOlder(true);
    try {
      const page = await get<PersonView>('person', { contactId, before });
      setOlder((o) => ({ episodes: mergeEpisodes(page.episodes, o?.episodes ?? []), nextBefore: page.nextBefore }));
    } catch (err) {
      onError(errorText(err));
    } finally {
      setLoadingOlder(false);
    }
  }

  if (error && !person) return html`<section class="person empty-state" role="alert">${error}</section><aside class="side"></aside>`;
  if (!person) return html`<section class="person empty-state" aria-busy="true">Loading…</section><aside class="side"></aside>`;

  const episodes = older ? mergeEpisodes(older.episodes, person.episodes) : person.episodes;
  const moreBefore = older ? older.nextBefore : person.nextBefore;
  const current = episodes.find((e) => e.conversationId === conversationId) ?? episodes[episodes.length - 1] ?? null;
  const name = person.contact.name || person.identities[0]?.value || 'Unknown person';
  const handles = person.identities.slice(0, 4);
  const channels = [...new Set(episodes.flatMap((e) => e.channels))];

  return html`
    <section class="person" aria-label=${`Conversation with ${name}`} data-test="person" data-contact-id=${person.contact.id}>
      <header class="person-head">
        <span class="avatar big" aria-hidden="true">${initials(name)}</span>
        <div class="person-title">
          <h1 data-test="person-name">${name}</h1>
          <div class="handles">
            ${handles.map((i) => html`<span key=${`${i.kind}${i.value}`} class="handle" title=${i.explanation}>${i.value}</span>`)}
            ${person.identities.length > handles.length && html`<span class="muted">+${person.identities.length - handles.length}</span>`}
          </div>
        </div>
        <div class="person-channels">${channels.map((c) => html`<${ChannelIcon} key=${c} channel=${c} />`)}</div>
      </header>
      <${Actions} me=${me} episode=${current} onDone=${onChanged} onError=${onError} />
      <div class="timeline" ref=${scroller} data-test="timeline">
        ${moreBefore &&
        html`<div class="older"><button type="button" class="btn subtle" onClick=${loadOlder} disabled=${loadingOlder} data-test="load-older">
          ${loadingOlder ? 'Loading…' : 'Load older'}</button></div>`}
        ${episodes.map(
          (ep) => html`<${Episode} key=${ep.conversationId} episode=${ep} selected=${current?.conversationId === ep.conversationId}
            onSelect=${onConversation} agents=${me.agents} customer=${person.contact.name || 'Customer'} />`,
        )}
        ${!episodes.length && html`<p class="empty">No conversation yet.</p>`}
      </div>
      <${Composer} person=${person} episode=${current} onSent=${onChanged} onError=${onError} />
    </section>
    <${IdentityPanel} person=${person} onChanged=${onChanged} onError=${onError} />
  `;
}
