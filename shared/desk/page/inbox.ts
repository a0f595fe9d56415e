/** The inbox (left column): queue tabs with counts, search, rows with live wait and SLA clocks, load more. */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { InboxItem, InboxPage, Me, Queue } from '../contract';
import { errorText, get } from './api';
import { ChannelIcon, Icon, cx, duration, initials, since, useTick, when } from './util';

const QUEUE_LABELS: Record<Queue, string> = { waiting: 'Waiting', mine: 'Mine', open: 'Open', resolved: 'Resolved' };
const QUEUE_LIST: Queue[] = ['waiting', 'mine', 'open', 'resolved'];
const PAGE = 30;

export interface InboxProps {
  me: Me;
  queue: Queue;
  onQueue: (q: Queue) => void;
  selectedConversationId: string | null;
  onSelect: (item: InboxItem) => void;
  /** Bumped when something changed: reload the first page(s). */
  version: number;
  /** The change cursor of each read, for the changes loop. */
  onSeq: (seq: number) => void;
}

export function Inbox({ me, queue, onQueue, selectedConversationId, onSelect, version, onSeq }: InboxProps) {
  const [q, setQ] = useState('');
  const [search, setSearch] = useState('');
  const [page, setPage] = useState<InboxPage | null>(null);
  const [items, setItems] = useState<InboxItem[]>([]);
  const [error, setError] = useState('');
  const [loading, setLoading] = useState(false);
  const shown = useRef(0);
  shown.current = items.length;
  const request = useRef(0);

  // Debounced search.
  useEffect(() => {
    const t = setTimeout(() => setSearch(q.trim()), 300);
    return () => clearTimeout(t);
  }, [q]);

  // (Re)load the first page: on queue or search change, and on every live change (keeping as many rows as shown).
  const key = `${queue}\n${search}`;
  const lastKey = useRef('');
  useEffect(() => {
    const sameList = lastKey.current === key;
    lastKey.current = key;
    const limit = sameList ? Math.min(100, Math.max(PAGE, shown.current)) : PAGE;
    const id = ++request.current;
    setLoading(true);
    get<InboxPage>('inbox', { queue, q: search, limit })
      .then((p) => {
        if (id !== request.current) return;
        setPage(p);
        setItems(p.items);
        setError('');
        onSeq(p.seq);
      })
      .catch((err) => id === request.current && setError(errorText(err)))
      .finally(() => id === request.current && setLoading(false));
  }, [key, version]);

  async function loadMore() {
    if (!page?.nextCursor) return;
    const id = ++request.current;
    setLoading(true);
    try {
      const next = await get<InboxPage>('inbox', { queue, q: search, cursor: page.nextCursor, limit: PAGE });
      if (id !== request.current) return;
      setPage(next);
      setItems((old) => [...old, ...next.items.filter((n) => !old.some((o) => o.conversationId === n.conversationId))]);
    } catch (err) {
      setError(errorText(err));
    } finally {
      if (id === request.current) setLoading(false);
    }
  }

  const agentName = (id: string | null) => (id ? (me.agents.find((a) => a.id === id)?.name ?? id) : null);

  return html`
    <section class="inbox" aria-label="Inbox">
      <div class="tabs" role="tablist" aria-label="Queues">
        ${QUEUE_LIST.map(
          (name) => html`<button type="button" role="tab" aria-selected=${queue === name} class=${cx('tab', queue === name && 'active')}
            onClick=${() => onQueue(name)} data-test=${`queue-${name}`} data-queue=${name}>
            ${QUEUE_LABELS[name]} <span class="count" data-test=${`queue-count-${name}`}>${page ? page.counts[name] : '·'}</span>
          </button>`,
        )}
      </div>
      <div class="search">
        <label class="sr-only" for="inbox-search">Search people and messages</label>
        <input id="inbox-search" type="search" placeholder="Search name, email, phone, text…" value=${q}
          onInput=${(e: Event) => setQ((e.target as HTMLInputElement).value)} data-test="inbox-search" />
      </div>
      ${error && html`<p class="inline-error" role="alert">${error}</p>`}
      <ul class="rows" data-test="inbox-list" aria-busy=${loading}>
        ${items.map((item) => html`<${Row} key=${item.conversationId} item=${item} selected=${item.conversationId === selectedConversationId}
            agent=${agentName(item.assignedAgentId)} mine=${item.assignedAgentId === me.agent.id} onSelect=${onSelect} />`)}
        ${!loading && !items.length && !error && html`<li class="empty">${search ? 'No conversation matches.' : `Nothing in ${QUEUE_LABELS[queue].toLowerCase()}.`}</li>`}
      </ul>
      ${page?.nextCursor &&
      html`<button type="button" class="btn subtle wide" onClick=${loadMore} disabled=${loading} data-test="inbox-more">Load more</button>`}
    </section>
  `;
}

function Row({ item, selected, agent, mine, onSelect }: { item: InboxItem; selected: boolean; agent: string | null; mine: boolean; onSelect: (i: InboxItem) => void }) {
  const title = item.name || item.handle || 'Unknown person';
  const last = item.lastMessage;
  return html`
    <li>
      <button type="button" class=${cx('row', selected && 'selected', item.slaBreached && 'breached')} aria-current=${selected ? 'true' : undefined}
        onClick=${() => onSelect(item)} data-test="inbox-row" data-conversation-id=${item.conversationId} data-contact-id=${item.contactId}>
        <span class="avatar" aria-hidden="true">${initials(item.name || item.handle)}</span>
        <span class="row-main">
          <span class="row-top">
            <span class="row-name">${title}</span>
            <span class="row-channels">${item.channels.map((c) => html`<${ChannelIcon} key=${c} channel=${c} />`)}</span>
            <span class="row-time" title=${item.lastActivityAt}>${when(item.lastActivityAt)}</span>
          </span>
          ${item.name && item.handle && html`<span class="row-handle">${item.handle}</span>`}
          <span class="row-last">
            ${last
              ? html`<span class=${cx('dir', last.direction ?? 'none')} aria-label=${last.direction === 'inbound' ? 'from the customer' : last.direction === 'outbound' ? 'sent to the customer' : ''}>${last.direction === 'inbound' ? '↙' : last.direction === 'outbound' ? '↗' : '•'}</span>
                  ${last.text || html`<em>(no text)</em>`}`
              : html`<em>No messages yet</em>`}
          </span>
          <span class="row-meta">
            ${item.waitingSince && html`<${Clock} item=${item} />`}
            ${item.priority !== 'normal' && html`<span class=${cx('badge', `prio-${item.priority}`)} data-test="row-priority">${item.priority}</span>`}
            ${item.intent && html`<span class="badge intent" data-test="row-intent">${item.intent}</span>`}
            ${item.handoff && item.handoff.status !== 'resolved' && html`<span class="badge handoff">handoff ${item.handoff.status}</span>`}
            ${item.status === 'resolved' && html`<span class="badge ok">resolved</span>`}
            <span class="row-agent">${agent ? html`<span class=${cx('badge', 'agent', mine && 'me')}>${mine ? 'You' : agent}</span>` : html`<span class="muted">Unassigned</span>`}</span>
          </span>
        </span>
      </button>
    </li>
  `;
}

/** Waiting time and SLA, counting every second; red when the SLA is breached. */
function Clock({ item }: { item: InboxItem }) {
  const now = useTick();
  const waited = item.waitingSince ? since(item.waitingSince, now) : null;
  const due = item.slaDueAt ? Date.parse(item.slaDueAt) : null;
  const breached = item.slaBreached || (due !== null && now > due);
  return html`
    <span class=${cx('clock', breached && 'breached')} data-test="row-sla" data-breached=${breached ? 'true' : 'false'}
      title=${item.slaDueAt ? `SLA due ${when(item.slaDueAt)}` : 'Waiting for an answer'}>
      <${Icon} name="clock" /> ${duration(waited)}${due !== null && html` · SLA ${breached ? `${duration((now - due) / 1000)} over` : `${duration((due - now) / 1000)} left`}`}
    </span>
  `;
}
