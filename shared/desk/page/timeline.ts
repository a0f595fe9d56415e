/** The person's timeline: episodes (conversations) and their events, each drawn by kind. */
import { html } from 'htm/preact';
import type { EpisodeView, HandoffSummary, Me, TimelineEventView } from '../contract';
import { ChannelIcon, Icon, channelLabel, cx, fullDate, when } from './util';

type Agents = Me['agents'];

export function Episode({ episode, selected, onSelect, agents, customer }: { episode: EpisodeView; selected: boolean; onSelect: (id: string) => void; agents: Agents; customer: string }) {
  const agent = episode.assignedAgentId ? (agents.find((a) => a.id === episode.assignedAgentId)?.name ?? episode.assignedAgentId) : null;
  return html`
    <section class=${cx('episode', selected && 'selected', `st-${episode.status}`)} data-test="episode" data-conversation-id=${episode.conversationId} data-status=${episode.status}
      aria-label=${`Conversation opened ${when(episode.openedAt)}`}>
      <header class="episode-head">
        <button type="button" class="episode-pick" onClick=${() => onSelect(episode.conversationId)} aria-pressed=${selected}
          title="Act on this conversation" data-test="episode-select">
          <span class=${cx('badge', episode.status === 'open' ? 'open' : episode.status === 'resolved' ? 'ok' : 'idle')}>${episode.status}</span>
          <span class="episode-channels">${episode.channels.map((c) => html`<${ChannelIcon} key=${c} channel=${c} />`)}</span>
          <span class="muted" title=${fullDate(episode.openedAt)}>${when(episode.openedAt)}${episode.closedAt ? ` – ${when(episode.closedAt)}` : ''}</span>
          <span class="episode-agent">${agent ? html`Assigned: <strong>${agent}</strong>` : html`<span class="muted">Unassigned</span>`}</span>
          ${episode.handoff && html`<${HandoffBadge} handoff=${episode.handoff} agents=${agents} />`}
        </button>
      </header>
      <ol class="events">
        ${episode.events.map((e) => html`<li key=${e.id} class="event-item"><${Event} event=${e} agents=${agents} customer=${customer} /></li>`)}
      </ol>
    </section>
  `;
}

function HandoffBadge({ handoff, agents }: { handoff: HandoffSummary; agents: Agents }) {
  const name = (id: string | null) => (id ? (agents.find((a) => a.id === id)?.name ?? id) : null);
  const who = handoff.status === 'offered' ? name(handoff.offeredTo) : handoff.status === 'queued' ? handoff.queue : name(handoff.agentId);
  return html`<span class=${cx('badge', 'handoff', `hs-${handoff.status}`)} data-test="episode-handoff" title=${`${handoff.reason} · SLA ${when(handoff.slaDueAt)}`}>
    handoff ${handoff.status}${who ? ` · ${who}` : ''}${handoff.priority !== 'normal' ? ` · ${handoff.priority}` : ''}
  </span>`;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v ? v : typeof v === 'number' ? String(v) : null);
const rec = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

const STATUS_MARK: Record<string, { mark: string; label: string }> = {
  pending: { mark: '◷', label: 'sending' },
  unknown: { mark: '?', label: 'status unknown' },
  sent: { mark: '✓', label: 'sent' },
  delivered: { mark: '✓✓', label: 'delivered' },
  read: { mark: '✓✓', label: 'read' },
  failed: { mark: '⚠', label: 'not delivered' },
};

function safeUrl(url: string | null): string | null {
  if (!url) return null;
  try {
    const u = new URL(url, location.href);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch {
    return null;
  }
}

function Event({ event, agents, customer }: { event: TimelineEventView; agents: Agents; customer: string }) {
  const common = { 'data-test': 'event', 'data-kind': event.kind, 'data-event-id': event.id };
  const time = html`<time datetime=${event.occurredAt} title=${fullDate(event.occurredAt)}>${when(event.occurredAt)}</time>`;
  const d = event.data ?? {};
  const agentName = (id: unknown) => {
    const s = str(id);
    return s ? (agents.find((a) => a.id === s)?.name ?? s) : null;
  };

  if ((event.kind === 'message' || event.kind === 'call' || event.kind === 'interaction') && event.direction) {
    const inbound = event.direction === 'inbound';
    const author = inbound ? customer : (event.author?.name ?? event.author?.id ?? (event.author?.type === 'ai' ? 'AI agent' : 'Agent'));
    const st = !inbound && event.status ? (STATUS_MARK[event.status] ?? { mark: '·', label: event.status }) : null;
    return html`
      <article class=${cx('bubble', inbound ? 'in' : 'out', event.status === 'failed' && 'failed')} ...${common} data-direction=${event.direction}>
        <header class="bubble-head">
          <${ChannelIcon} channel=${event.channel} />
          <span class="author">${author}</span>
          ${event.author?.type === 'ai' && html`<span class="badge ai">AI</span>`}
          ${time}
        </header>
        ${event.kind === 'call' && html`<div class="call-line">☎ Call</div>`}
        ${event.text && html`<div class="bubble-text">${event.text}</div>`}
        ${event.attachments.length > 0 &&
        html`<ul class="attachments">
          ${event.attachments.map((a, i) => {
            const href = safeUrl(a.url);
            const label = a.name || a.type || 'attachment';
            return html`<li key=${i}><${Icon} name="clip" /> ${href ? html`<a href=${href} target="_blank" rel="noopener noreferrer">${label}</a>` : label} <span class="muted">${a.type}</span></li>`;
          })}
        </ul>`}
        <footer class="bubble-foot">
          ${event.edited && html`<span class="edited" data-test="event-edited">edited</span>`}
          ${st && html`<span class=${cx('delivery', `ds-${event.status}`)} title=${st.label} data-test="event-status" data-status=${event.status}>${st.mark} ${st.label}</span>`}
        </footer>
      </article>
    `;
  }

  switch (event.kind) {
    case 'channel_switch': {
      const from = str(d.from);
      const to = str(d.to) ?? event.channel;
      return html`<div class="divider" ...${common}><span>
        <${ChannelIcon} channel=${from} /> Switched from ${channelLabel(from)} to ${channelLabel(to)} <${ChannelIcon} channel=${to} /> · ${time}
      </span></div>`;
    }
    case 'route_decision': {
      const decision = rec(d.decision);
      const target = rec(decision.target);
      const cls = rec(decision.classification);
      const targetText = [str(target.kind), agentName(target.agentId) ?? str(target.queue)].filter(Boolean).join(' ');
      return html`<div class="sys route" ...${common}>
        <div class="sys-head"><span class="sys-icon" aria-hidden="true">⤳</span> <strong>Route decision</strong>${targetText && html` → ${targetText}`} ${time}</div>
        <div class="sys-body">
          ${str(cls.intent) && html`<span class="badge intent">${str(cls.intent)}</span>`}
          ${str(decision.step) && html`<span class="badge">${str(decision.step)}</span>`}
          ${str(decision.priority) && str(decision.priority) !== 'normal' && html`<span class=${cx('badge', `prio-${str(decision.priority)}`)}>${str(decision.priority)}</span>`}
          ${str(cls.sentiment) && html`<span class="muted"> sentiment ${str(cls.sentiment)}</span>`}
          <p>${str(decision.reason) ?? event.text}</p>
        </div>
      </div>`;
    }
    case 'note':
      return html`<aside class="note" ...${common}>
        <div class="sys-head"><span class="badge internal">Internal note</span> <span class="author">${event.author?.name ?? event.author?.id ?? 'Agent'}</span> ${time}</div>
        <div class="bubble-text">${event.text}</div>
      </aside>`;
    case 'csat': {
      const score = str(d.score) ?? str(d.rating) ?? str(d.value);
      return html`<div class="sys csat" ...${common}>
        <div class="sys-head"><span class="sys-icon" aria-hidden="true">★</span> <strong>CSAT</strong> ${score && html`<span class="score" data-test="csat-score">${score}${typeof d.scale === 'number' ? ` / ${d.scale}` : ''}</span>`} ${time}</div>
        ${event.text && html`<div class="sys-body"><p>${event.text}</p></div>`}
      </div>`;
    }
    case 'merge':
    case 'unmerge':
      return html`<div class="sys merge" ...${common}>
        <div class="sys-head"><span class="sys-icon" aria-hidden="true">${event.kind === 'merge' ? '⇉' : '⇇'}</span> <strong>${event.kind === 'merge' ? 'Merged' : 'Unmerged'}</strong> ${time}</div>
        <div class="sys-body"><p>${event.text || str(d.explanation) || str(d.rule) || ''}</p></div>
      </div>`;
  }

  if (event.kind.startsWith('handoff')) {
    const to = agentName(d.to) ?? agentName(d.agentId) ?? str(d.queue);
    const label = event.kind === 'handoff' ? 'Handoff' : `Handoff ${event.kind.slice('handoff_'.length)}`;
    return html`<div class="sys handoff-ev" ...${common}>
      <div class="sys-head"><span class="sys-icon" aria-hidden="true">⇄</span> <strong>${label}</strong>${to && html` → ${to}`}
        ${str(d.priority) && html` <span class=${cx('badge', `prio-${str(d.priority)}`)}>${str(d.priority)}</span>`} ${time}</div>
      <div class="sys-body">
        ${str(d.summary) && html`<p class="summary"><strong>Summary:</strong> ${str(d.summary)}</p>`}
        ${str(d.reason) && html`<p><strong>Reason:</strong> ${str(d.reason)}</p>`}
        ${str(d.slaDueAt) && html`<p><strong>SLA:</strong> first answer due ${when(str(d.slaDueAt))}</p>`}
        ${!str(d.summary) && !str(d.reason) && event.text && html`<p>${event.text}</p>`}
      </div>
    </div>`;
  }

  // Anything else (status, assignment, conversation_opened/closed, csat_requested, custom kinds): a system line.
  return html`<div class="sys line" ...${common}>
    <span class="sys-icon" aria-hidden="true">•</span> <span class="kind">${event.kind.replace(/_/g, ' ')}</span>
    ${event.text && html` <span>${event.text}</span>`}
    ${event.author?.name && html` <span class="muted">by ${event.author.name}</span>`} ${time}
  </div>`;
}
