/** The composer (reply or internal note) and the conversation's action buttons. */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { EpisodeView, Me, PersonView } from '../contract';
import { ApiError, errorText, newClientId, post } from './api';
import { Icon, channelLabel, cx, when } from './util';

/** The channel to preselect: the open channel the customer wrote on last, else the first open one. */
function defaultChannel(person: PersonView, episode: EpisodeView | null): string {
  const open = person.channels.filter((c) => c.open);
  const events = episode?.events ?? [];
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e.direction === 'inbound' && e.channel && open.some((c) => c.channel === e.channel)) return e.channel;
  }
  return open[0]?.channel ?? person.channels[0]?.channel ?? '';
}

/** Whether a failed write may or may not have reached the server (retry with the same clientId). */
const outcomeUnknown = (err: unknown) => err instanceof ApiError && (err.network || err.status >= 500);

export function Composer({ person, episode, onSent, onError }: { person: PersonView; episode: EpisodeView | null; onSent: () => void; onError: (msg: string) => void }) {
  const [text, setText] = useState('');
  const [note, setNote] = useState(false);
  const [channel, setChannel] = useState(() => defaultChannel(person, episode));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  /** The clientId of the last attempt whose outcome is unknown, with what it sent: a retry of the same reuses it. */
  const pending = useRef<{ key: string; clientId: string } | null>(null);

  // A new person: a fresh composer.
  useEffect(() => {
    setText('');
    setError('');
    pending.current = null;
  }, [person.contact.id]);
  useEffect(() => {
    if (!person.channels.some((c) => c.channel === channel && c.open)) setChannel(defaultChannel(person, episode));
  }, [person, episode?.conversationId]);

  const option = person.channels.find((c) => c.channel === channel);
  const canSend = note || (option?.open ?? false);

  async function send(e?: Event) {
    e?.preventDefault();
    if (!text.trim() || busy) return;
    if (!note && !canSend) return;
    const key = JSON.stringify([note ? 'note' : 'reply', channel, episode?.conversationId ?? null, text]);
    const clientId = pending.current?.key === key ? pending.current.clientId : newClientId();
    pending.current = { key, clientId };
    setBusy(true);
    setError('');
    try {
      const base = { contactId: person.contact.id, ...(episode ? { conversationId: episode.conversationId } : {}), text, clientId };
      if (note) await post('note', base);
      else await post('reply', { ...base, channel });
      pending.current = null;
      setText('');
      onSent();
    } catch (err) {
      // A definite refusal (4xx): the next attempt is a new message. Unknown outcome: keep the clientId.
      if (!outcomeUnknown(err)) pending.current = null;
      const msg = errorText(err) + (outcomeUnknown(err) ? ' Press Send again to retry: it will be sent once.' : '');
      setError(msg);
      if (!(err instanceof ApiError)) onError(msg);
    } finally {
      setBusy(false);
    }
  }

  function keydown(e: KeyboardEvent) {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void send();
  }

  return html`
    <form class=${cx('composer', note && 'note-mode')} onSubmit=${send} data-test="composer">
      <div class="composer-bar">
        <button type="button" class=${cx('toggle', note && 'on')} aria-pressed=${note} onClick=${() => setNote(!note)} data-test="note-toggle"
          title="An internal note is never sent to the customer">
          <${Icon} name=${note ? 'lock' : 'mail'} /> ${note ? 'Internal note' : 'Reply'}
        </button>
        ${!note &&
        html`<label class="channel-pick">
          <span>via</span>
          <select value=${channel} onChange=${(e: Event) => setChannel((e.target as HTMLSelectElement).value)} data-test="channel-select" aria-label="Channel to reply on">
            ${person.channels.map(
              (c) => html`<option key=${c.channel} value=${c.channel} disabled=${!c.open}>
                ${channelLabel(c.channel)}${c.open ? (c.closesAt ? ` (open until ${when(c.closesAt)})` : '') : ` (closed: ${c.reason})`}
              </option>`,
            )}
          </select>
        </label>`}
        ${!note && option && html`<span class=${cx('window', option.open ? 'open' : 'closed')} data-test="channel-window">${option.open ? '● open' : '● closed'}${option.reason ? ` · ${option.reason}` : ''}</span>`}
        ${!note && !person.channels.length && html`<span class="window closed">No channel to reply on</span>`}
      </div>
      <label class="sr-only" for="composer-text">${note ? 'Internal note' : 'Reply to the customer'}</label>
      <textarea id="composer-text" rows="3" value=${text} onInput=${(e: Event) => setText((e.target as HTMLTextAreaElement).value)} onKeyDown=${keydown}
        placeholder=${note ? 'Write an internal note (only agents see it)…' : 'Write a reply… (Ctrl+Enter to send)'} data-test="composer-text"></textarea>
      ${error && html`<p class="inline-error" role="alert" data-test="composer-error">${error}</p>`}
      <div class="composer-foot">
        <span class="muted small">${note ? 'Visible to agents only' : episode ? `Conversation from ${when(episode.openedAt)}` : 'Starts a new conversation'}</span>
        <button type="submit" class=${cx('btn', note ? 'note-btn' : 'primary')} disabled=${busy || !text.trim() || !canSend} data-test="send">
          ${busy ? 'Sending…' : note ? 'Add note' : 'Send'}
        </button>
      </div>
    </form>
  `;
}

// ---------------------------------------------------------------------------------------------
// Actions on the selected conversation
// ---------------------------------------------------------------------------------------------

export function Actions({ me, episode, onDone, onError }: { me: Me; episode: EpisodeView | null; onDone: () => void; onError: (msg: string) => void }) {
  const [busy, setBusy] = useState('');
  const [transfer, setTransfer] = useState(false);
  if (!episode) return html`<div class="actions muted small">No conversation yet.</div>`;

  const id = episode.conversationId;
  const resolved = episode.status === 'resolved';
  const handoff = episode.handoff;
  const mine = episode.assignedAgentId === me.agent.id;
  const offeredToOther = handoff?.status === 'offered' && handoff.offeredTo && handoff.offeredTo !== me.agent.id;
  const acceptable = !!handoff && !resolved && (handoff.status === 'queued' || handoff.status === 'expired' || (handoff.status === 'offered' && !offeredToOther));
  const hasCsat = episode.events.some((e) => e.kind === 'csat');

  const buttons: { key: string; label: string; disabled: string | false; run: () => Promise<unknown>; primary?: boolean }[] = [
    { key: 'assign', label: 'Assign to me', disabled: resolved ? 'The conversation is resolved' : mine ? 'Already assigned to you' : false, run: () => post('assign', { conversationId: id }) },
    {
      key: 'accept',
      label: 'Accept handoff',
      primary: acceptable,
      disabled: !handoff ? 'No handoff on this conversation' : acceptable ? false : offeredToOther ? 'Offered to another agent' : `The handoff is ${handoff.status}`,
      run: () => post('accept', { conversationId: id }),
    },
    { key: 'release', label: 'Release', disabled: resolved ? 'The conversation is resolved' : mine ? false : 'Only the assigned agent can release it', run: () => post('release', { conversationId: id }) },
    { key: 'resolve', label: 'Resolve', disabled: resolved ? 'Already resolved' : false, run: () => post('resolve', { conversationId: id }) },
    { key: 'csat', label: 'Request CSAT', disabled: hasCsat ? 'The customer already rated this conversation' : false, run: () => post('csat', { conversationId: id }) },
  ];

  async function run(key: string, fn: () => Promise<unknown>) {
    setBusy(key);
    try {
      await fn();
      onDone();
    } catch (err) {
      onError(errorText(err));
    } finally {
      setBusy('');
    }
  }

  return html`
    <div class="actions" role="toolbar" aria-label="Conversation actions">
      ${buttons.map(
        (b) => html`<button key=${b.key} type="button" class=${cx('btn', 'small', b.primary && 'primary')} disabled=${!!b.disabled || !!busy}
          title=${b.disabled || ''} data-test=${`action-${b.key}`} onClick=${() => run(b.key, b.run)}>${busy === b.key ? '…' : b.label}</button>`,
      )}
      <button type="button" class=${cx('btn', 'small', transfer && 'active')} disabled=${resolved || !!busy} title=${resolved ? 'The conversation is resolved' : ''}
        aria-expanded=${transfer} data-test="action-transfer" onClick=${() => setTransfer(!transfer)}>Transfer…</button>
      ${transfer &&
      html`<${TransferForm} me=${me} onCancel=${() => setTransfer(false)}
        onSubmit=${(body: { toAgentId?: string; queue?: string; reason: string }) =>
          run('transfer', async () => {
            await post('transfer', { conversationId: id, ...body });
            setTransfer(false);
          })} />`}
    </div>
  `;
}

function TransferForm({ me, onSubmit, onCancel }: { me: Me; onSubmit: (b: { toAgentId?: string; queue?: string; reason: string }) => void; onCancel: () => void }) {
  const [to, setTo] = useState('');
  const [queue, setQueue] = useState('');
  const [reason, setReason] = useState('');
  const others = me.agents.filter((a) => a.id !== me.agent.id);
  const valid = (to || queue.trim()) && reason.trim();
  return html`
    <form class="transfer" data-test="transfer-form" onSubmit=${(e: Event) => {
      e.preventDefault();
      if (valid) onSubmit({ ...(to ? { toAgentId: to } : { queue: queue.trim() }), reason: reason.trim() });
    }}>
      <label>To agent
        <select value=${to} onChange=${(e: Event) => setTo((e.target as HTMLSelectElement).value)} data-test="transfer-agent">
          <option value="">— a queue instead —</option>
          ${others.map((a) => html`<option key=${a.id} value=${a.id}>${a.name} (${a.kind === 'ai' ? 'AI, ' : ''}${a.status})</option>`)}
        </select>
      </label>
      ${!to &&
      html`<label>Queue
        <input value=${queue} onInput=${(e: Event) => setQueue((e.target as HTMLInputElement).value)} placeholder="e.g. billing" data-test="transfer-queue" />
      </label>`}
      <label class="grow">Reason
        <input value=${reason} required onInput=${(e: Event) => setReason((e.target as HTMLInputElement).value)} placeholder="Why it moves" data-test="transfer-reason" />
      </label>
      <button type="submit" class="btn small primary" disabled=${!valid} data-test="transfer-submit">Transfer</button>
      <button type="button" class="btn small" onClick=${onCancel}>Cancel</button>
    </form>
  `;
}
