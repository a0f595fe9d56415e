/** Admin: the Agents panel (desk access, role, password, one-time sign-in links, revoke). */
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import type { AgentAccessView, DeskRole, Me, SignInLink } from '../contract';
import { errorText, get, post } from './api';
import { cx, when } from './util';

export function Agents({ me }: { me: Me }) {
  const [agents, setAgents] = useState<AgentAccessView[] | null>(null);
  const [error, setError] = useState('');
  const [notice, setNotice] = useState('');
  const [link, setLink] = useState<SignInLink | null>(null);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    get<AgentAccessView[] | { agents: AgentAccessView[] }>('agents')
      .then((r) => {
        setAgents(Array.isArray(r) ? r : r.agents);
        setError('');
      })
      .catch((err) => setError(errorText(err)));
  }, [version]);

  async function act(fn: () => Promise<unknown>, done: string) {
    setError('');
    setNotice('');
    try {
      const r = await fn();
      setNotice(done);
      setVersion((v) => v + 1);
      return r;
    } catch (err) {
      setError(errorText(err));
      return undefined;
    }
  }

  return html`
    <main class="admin" aria-labelledby="agents-title" data-test="agents">
      <h1 id="agents-title">Agents</h1>
      <p class="muted">Desk access for the roster's agents. Passwords need at least 10 characters; a sign-in link works once and is shown only here, now.</p>
      ${error && html`<p class="inline-error" role="alert">${error}</p>`}
      ${notice && html`<p class="notice" role="status">${notice}</p>`}
      ${link && html`<${LinkBox} link=${link} onClose=${() => setLink(null)} />`}
      ${agents &&
      html`<table class="agents-table">
        <thead><tr><th scope="col">Agent</th><th scope="col">Status</th><th scope="col">Access</th><th scope="col">Password</th><th scope="col">Sessions</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>
          ${agents.map(
            (a) => html`<${AgentRow} key=${a.id} agent=${a} self=${a.id === me.agent.id}
              onAccess=${(role: DeskRole, password?: string) => act(() => post('agent-access', { agentId: a.id, role, ...(password ? { password } : {}) }), `${a.name}: access saved`)}
              onLink=${async () => {
                const r = (await act(() => post('agent-link', { agentId: a.id }), `Sign-in link issued for ${a.name}`)) as SignInLink | undefined;
                if (r) setLink(r);
              }}
              onRevoke=${() => confirm(`Remove ${a.name}'s desk access and end their sessions?`) && act(() => post('agent-revoke', { agentId: a.id }), `${a.name}: access revoked`)} />`,
          )}
        </tbody>
      </table>`}
    </main>
  `;
}

function AgentRow({ agent, self, onAccess, onLink, onRevoke }: { agent: AgentAccessView; self: boolean; onAccess: (role: DeskRole, password?: string) => void; onLink: () => void; onRevoke: () => void }) {
  const [role, setRole] = useState<DeskRole | ''>(agent.role ?? '');
  const [password, setPassword] = useState('');
  const short = password.length > 0 && password.length < 10;
  return html`<tr data-test="agent-row" data-agent-id=${agent.id}>
    <th scope="row">${agent.name} <span class="muted small">${agent.id}${agent.kind === 'ai' ? ' · AI' : ''}${self ? ' · you' : ''}</span></th>
    <td><span class=${cx('badge', agent.status === 'available' && 'ok')}>${agent.status}</span></td>
    <td>
      <label class="sr-only" for=${`role-${agent.id}`}>Role of ${agent.name}</label>
      <select id=${`role-${agent.id}`} value=${role} onChange=${(e: Event) => setRole((e.target as HTMLSelectElement).value as DeskRole | '')} data-test="agent-role">
        ${!agent.role && html`<option value="">No access</option>`}
        <option value="agent">Agent</option>
        <option value="admin">Admin</option>
      </select>
    </td>
    <td>
      <label class="sr-only" for=${`pw-${agent.id}`}>New password for ${agent.name}</label>
      <input id=${`pw-${agent.id}`} type="password" autocomplete="new-password" placeholder=${agent.hasPassword ? 'set (leave empty to keep)' : 'none'} value=${password}
        onInput=${(e: Event) => setPassword((e.target as HTMLInputElement).value)} aria-invalid=${short} data-test="agent-password" />
      ${short && html`<div class="inline-error small">At least 10 characters</div>`}
    </td>
    <td>${agent.activeSessions}</td>
    <td class="btn-row">
      <button type="button" class="btn small primary" disabled=${!role || short} data-test="agent-save"
        onClick=${() => {
          if (role) onAccess(role, password || undefined);
          setPassword('');
        }}>Save</button>
      <button type="button" class="btn small" disabled=${!agent.role} title=${agent.role ? '' : 'Give access first'} onClick=${onLink} data-test="agent-link">Sign-in link</button>
      <button type="button" class="btn small danger-outline" disabled=${!agent.role || self} title=${self ? 'You cannot revoke yourself' : ''} onClick=${onRevoke} data-test="agent-revoke">Revoke</button>
    </td>
  </tr>`;
}

function LinkBox({ link, onClose }: { link: SignInLink; onClose: () => void }) {
  const [copied, setCopied] = useState(false);
  async function copy() {
    try {
      await navigator.clipboard.writeText(link.url);
    } catch {
      // No clipboard API outside a secure context: select the text, and the old command.
      const input = document.getElementById('signin-link-url') as HTMLInputElement | null;
      input?.select();
      document.execCommand?.('copy');
    }
    setCopied(true);
  }
  return html`<div class="linkbox" role="dialog" aria-label="Sign-in link" data-test="agent-link-box">
    <p><strong>One-time sign-in link for ${link.agentId}</strong> · expires ${when(link.expiresAt)}. It is shown only now.</p>
    <div class="link-row">
      <input id="signin-link-url" readonly value=${link.url} onFocus=${(e: Event) => (e.target as HTMLInputElement).select()} data-test="agent-link-url" />
      <button type="button" class="btn small primary" onClick=${copy} data-test="agent-link-copy">${copied ? 'Copied' : 'Copy'}</button>
      <button type="button" class="btn small" onClick=${onClose}>Done</button>
    </div>
  </div>`;
}
