/** The sign-in screen: agent id and password (op=signin). Sign-in links are handled by the app on load. */
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import type { Me } from '../contract';
import { ApiError, errorText, post } from './api';

export function SignIn({ onSignedIn, error: initialError, busy: linkBusy }: { onSignedIn: (me: Me) => void; error: string; busy: boolean }) {
  const [agentId, setAgentId] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  /** After a 429: the form stays disabled until Retry-After has passed. */
  const [lockedUntil, setLockedUntil] = useState(0);
  useEffect(() => {
    if (!lockedUntil) return;
    const t = setTimeout(() => setLockedUntil(0), Math.max(0, lockedUntil - Date.now()));
    return () => clearTimeout(t);
  }, [lockedUntil]);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const me = (await post('signin', { agentId: agentId.trim(), password })) as Me;
      setPassword('');
      onSignedIn(me);
    } catch (err) {
      setError(errorText(err));
      if (err instanceof ApiError && err.status === 429) setLockedUntil(Date.now() + (err.retryAfter ?? 30) * 1000);
    } finally {
      setBusy(false);
    }
  }

  const shown = error || initialError;
  return html`
    <main class="signin">
      <form class="signin-card" onSubmit=${submit} data-test="signin-form" aria-labelledby="signin-title">
        <div class="brand big"><span class="logo" aria-hidden="true">◎</span> Omnithread Desk</div>
        <h1 id="signin-title">Sign in</h1>
        <label for="signin-agent">Agent id</label>
        <input id="signin-agent" name="agentId" autocomplete="username" required value=${agentId}
          onInput=${(e: Event) => setAgentId((e.target as HTMLInputElement).value)} data-test="signin-agent" autofocus />
        <label for="signin-password">Password</label>
        <input id="signin-password" name="password" type="password" autocomplete="current-password" required value=${password}
          onInput=${(e: Event) => setPassword((e.target as HTMLInputElement).value)} data-test="signin-password" />
        ${shown && html`<p class="form-error" role="alert" data-test="signin-error">${shown}</p>`}
        <button type="submit" class="btn primary wide" disabled=${busy || linkBusy || lockedUntil > 0} data-test="signin-submit">
          ${busy || linkBusy ? 'Signing in…' : 'Sign in'}
        </button>
        <p class="hint">No password? Ask an admin for a one-time sign-in link.</p>
      </form>
    </main>
  `;
}
