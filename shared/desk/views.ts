/**
 * What the desk shows, read from the facade: the inbox page (conversations by queue with their last
 * message, wait, SLA clock, priority, intent and handoff) and one person (identities with how each was
 * linked, merges, open suggestions, the timeline in episodes, and which channels can be answered on now).
 */
import type { TimelineEvent } from '../model';
import type { Omnithread } from '../omnithread';
import type { InboxQueue, Viewer } from '../facade/desk';
import type { MergeRecord } from '../identity/contacts';
import { HANDOFF_EVENT_KINDS, foldHandoff } from '../routing/handoff';
import type { HandoffState } from '../routing/handoff';
import { REPLY_WINDOWS_MS } from '../reply';
import type {
  ChannelOption,
  EpisodeView,
  HandoffSummary,
  IdentityView,
  InboxItem,
  InboxPage,
  LastMessage,
  MergeView,
  PersonView,
  SuggestionView,
  TimelineEventView,
} from './contract';

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const record = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const PRIORITIES = ['normal', 'high', 'urgent'] as const;
const priorityOf = (v: unknown): InboxItem['priority'] => ((PRIORITIES as readonly unknown[]).includes(v) ? (v as InboxItem['priority']) : 'normal');

function handoffSummary(state: HandoffState | undefined): HandoffSummary | null {
  if (!state) return null;
  const { handoffId, status, queue, offeredTo, agentId, reason, priority, slaDueAt } = state;
  return { handoffId, status, queue, offeredTo, agentId, reason, priority, slaDueAt };
}

function authorOf(event: TimelineEvent): TimelineEventView['author'] {
  const author = record(event.data.author);
  if (!Object.keys(author).length) return null;
  return { id: str(author.id), name: str(author.name), type: str(author.type) ?? 'human' };
}

function lastMessageOf(event: TimelineEvent | null): LastMessage | null {
  if (!event) return null;
  const author = authorOf(event);
  return { text: event.text.slice(0, 280), direction: event.direction, channel: event.channel, at: event.occurredAt, author: author?.name ?? author?.id ?? null };
}

// Inbox --------------------------------------------------------------------------------------

export interface InboxRequest {
  queue: InboxQueue;
  viewer: Viewer;
  q?: string;
  cursor?: string;
  limit: number;
  /** Minutes a customer may wait for an answer when no handoff set an SLA. */
  slaMinutes: number;
}

export async function inboxView(ot: Omnithread, request: InboxRequest): Promise<InboxPage> {
  const data = ot.deskData();
  const offset = request.cursor ? Math.max(0, Number.parseInt(Buffer.from(request.cursor, 'base64url').toString(), 10) || 0) : 0;
  const page = await data.inboxPage({ queue: request.queue, viewer: request.viewer, q: request.q, offset, limit: request.limit });
  const [digests, people] = await Promise.all([data.conversationDigests(page.rows.map((r) => r.conversation.id)), data.inboxPeople(page.rows.map((r) => r.rootId))]);
  const now = ot.now();
  const items = page.rows.map(({ conversation: cv, rootId }): InboxItem => {
    const digest = digests.get(cv.id);
    const handoff = digest?.handoffEvents.length ? foldHandoff(digest.handoffEvents, rootId, cv.id) : undefined;
    // A route_decision event carries the AI Route's decision: its priority and the classification's intent.
    const route = record(record(digest?.lastRoute?.data).decision);
    const classification = record(route.classification);
    const waitingSince = cv.status === 'open' ? iso(cv.waiting_since) : null;
    const openHandoff = handoff && handoff.status !== 'resolved' ? handoff : undefined;
    const slaDueAt = openHandoff?.slaDueAt ?? (waitingSince ? iso(Date.parse(waitingSince) + request.slaMinutes * 60_000) : null);
    const person = people.get(rootId);
    return {
      conversationId: cv.id,
      contactId: rootId,
      name: person?.name ?? null,
      handle: person?.handle ?? null,
      status: cv.status,
      channels: JSON.parse(cv.channels) as string[],
      lastChannel: cv.last_channel,
      lastMessage: lastMessageOf(digest?.lastMessage ?? null),
      waitingSince,
      slaDueAt,
      slaBreached: Boolean(slaDueAt && waitingSince && Date.parse(slaDueAt) < now),
      priority: openHandoff?.priority ?? priorityOf(route.priority ?? (classification.urgency === 'high' ? 'high' : undefined)),
      intent: str(classification.intent),
      assignedAgentId: cv.assigned_agent_id ?? null,
      handoff: handoffSummary(handoff),
      openedAt: iso(cv.opened_at)!,
      lastActivityAt: iso(cv.last_activity_at)!,
      closedAt: iso(cv.closed_at),
    };
  });
  return {
    queue: request.queue,
    counts: page.counts,
    items,
    nextCursor: page.more ? Buffer.from(String(offset + request.limit)).toString('base64url') : null,
    seq: page.seq,
  };
}

// Person -------------------------------------------------------------------------------------

const TRUST_WORDS: Record<string, string> = {
  verified: 'verified (signed by your own system)',
  channel: 'vouched for by the channel',
  asserted: 'typed by the customer',
};

function mergeExplanation(merge: MergeRecord): string {
  const evidence = record(merge.evidence);
  const matched = Array.isArray(evidence.matched) ? (evidence.matched as unknown[]).map(String).join(', ') : str(evidence.handle) ?? str(evidence.reason);
  const how = merge.rule === 'manual' ? 'by hand' : `by rule "${merge.rule}"`;
  return `merged ${how} by ${merge.actor} on ${merge.createdAt}${matched ? ` (${matched})` : ''}${merge.undoneAt ? `; undone on ${merge.undoneAt}` : ''}`;
}

function withoutRaw(data: Record<string, unknown>): Record<string, unknown> {
  const { raw: _raw, ...rest } = data;
  return rest;
}

function eventView(event: TimelineEvent, statuses: Map<string, string>): TimelineEventView {
  const attachments = Array.isArray(event.data.attachments)
    ? (event.data.attachments as unknown[]).map((a) => {
        const att = record(a);
        return { type: str(att.type) ?? 'file', url: str(att.url), name: str(att.filename) ?? str(att.name) };
      })
    : [];
  const sendState = str(event.data.sendState);
  return {
    id: event.id,
    seq: event.seq,
    kind: event.kind,
    channel: event.channel,
    direction: event.direction,
    text: event.text,
    occurredAt: event.occurredAt,
    conversationId: event.conversationId,
    author: authorOf(event),
    attachments,
    edited: Boolean(event.data.editedAt),
    status: statuses.get(event.id) ?? (sendState && sendState !== 'sent' ? sendState : event.direction === 'outbound' && event.kind === 'message' ? 'sent' : null),
    // The raw provider payload stays out of the page: it is large and the page never needs it.
    data: 'raw' in event.data ? withoutRaw(event.data) : event.data,
  };
}

/** The latest status (delivered, read, failed) of each outbound message the events mention. */
function statusesOf(events: readonly TimelineEvent[]): Map<string, string> {
  const rank: Record<string, number> = { sent: 1, delivered: 2, read: 3, failed: 4 };
  const statuses = new Map<string, string>();
  for (const e of events) {
    if (e.kind !== 'status') continue;
    const of = str(e.data.of);
    const status = str(e.data.status);
    if (!of || !status) continue;
    const had = statuses.get(of);
    if (!had || (rank[status] ?? 0) >= (rank[had] ?? 0)) statuses.set(of, status);
  }
  return statuses;
}

/** The channel an identity lets us write on (a WhatsApp id: WhatsApp; a phone: SMS; an email: email). */
const CHANNEL_OF_KIND: Record<string, string> = {
  email: 'email',
  phone: 'sms',
  whatsapp_id: 'whatsapp',
  whatsapp_bsuid: 'whatsapp',
  telegram_user: 'telegram',
  messenger_psid: 'messenger',
  instagram_igsid: 'instagram',
  x_user: 'x',
  webchat_visitor: 'webchat',
};

/** One person's page, read on one snapshot of the store (facade/desk-person.ts). */
export async function personView(ot: Omnithread, rootId: string, options: { before?: string; limit: number; sendChannels: readonly string[] }): Promise<PersonView> {
  const { contact, merges, suggestions, conversations, page, lastInbound: inbound, openHandoffs } = await ot.deskData().personSnapshot(rootId, { ...options, windowMs: Math.max(...Object.values(REPLY_WINDOWS_MS)) });
  const mergeViews: MergeView[] = merges.map((m) => ({ ...m, explanation: `${m.mergedId} ${mergeExplanation(m)}` }));
  const identities: IdentityView[] = contact.identities.map((identity) => {
    const via = identity.contactId !== contact.id ? merges.find((m) => m.mergedId === identity.contactId && !m.undoneAt) : undefined;
    const seen = `first seen ${identity.firstSeenAt}, ${TRUST_WORDS[identity.trust] ?? identity.trust}`;
    const explanation = via ? `came with contact ${identity.contactId}, ${mergeExplanation(via)}; ${seen}` : `${seen}${identity.shared ? `; shared: ${identity.shared} (never links people)` : ''}`;
    return { ...identity, explanation };
  });
  const suggestionViews: SuggestionView[] = [];
  for (const s of suggestions) {
    const otherId = s.contactIds.find((id) => id !== contact.id && !contact.mergedContactIds.includes(id)) ?? s.contactIds[1];
    const other = await ot.getContact(otherId).catch(() => undefined);
    if (!other || other.id === contact.id) continue;
    suggestionViews.push({
      id: s.id,
      other: { id: other.id, name: other.name, identities: other.identities.map(({ kind, value, scope, trust }) => ({ kind, value, scope, trust })) },
      reason: s.reason,
      evidence: s.evidence,
      createdAt: s.createdAt,
    });
  }

  const events = [...page.events].reverse();
  const statuses = statusesOf(events);
  const byConversation = new Map<string, TimelineEvent[]>();
  let current = '';
  for (const event of events) {
    // Events of no conversation (a merge, an attribute) sit with the conversation around them.
    const key = event.conversationId ?? current;
    current = key;
    if (event.kind === 'status') continue;
    const list = byConversation.get(key);
    if (list) list.push(event);
    else byConversation.set(key, [event]);
  }
  // Open conversations show their current handoff whatever page of events is loaded: their handoff events
  // are read by conversation and kind (an index seek), not by walking the person's whole history.
  const openStates = new Map<string, HandoffState | undefined>([...openHandoffs].map(([id, events]) => [id, foldHandoff(events, contact.id, id)]));
  const episodes: EpisodeView[] = [];
  for (const [conversationId, list] of byConversation) {
    const conversation = conversations.find((c) => c.id === conversationId);
    const handoff = openStates.has(conversationId)
      ? openStates.get(conversationId)
      : foldHandoff(list.filter((e) => (HANDOFF_EVENT_KINDS as readonly string[]).includes(e.kind)), contact.id, conversationId);
    episodes.push({
      conversationId,
      status: conversation?.status ?? 'idle',
      channels: conversation?.channels ?? [...new Set(list.map((e) => e.channel).filter((c): c is string => Boolean(c)))],
      openedAt: conversation?.openedAt ?? list[0].occurredAt,
      closedAt: conversation?.closedAt ?? null,
      assignedAgentId: conversation?.assignedAgentId ?? null,
      handoff: handoffSummary(handoff),
      events: list.map((e) => eventView(e, statuses)),
    });
  }

  const now = ot.now();
  const used = new Set<string>([...conversations.flatMap((c) => c.channels), ...contact.identities.map((i) => CHANNEL_OF_KIND[i.kind]).filter((c): c is string => Boolean(c))]);
  used.delete('voice');
  const channels: ChannelOption[] = [...used].sort().map((channel) => {
    const last = inbound.get(channel);
    const windowMs = REPLY_WINDOWS_MS[channel];
    const closesAt = windowMs && last !== undefined ? last + windowMs : null;
    if (channel !== 'webchat' && !options.sendChannels.includes(channel)) return { channel, open: false, reason: `this desk has no ${channel} account to send with`, closesAt: iso(closesAt) };
    if (windowMs && (!closesAt || closesAt <= now)) {
      return { channel, open: false, reason: last !== undefined ? `the 24-hour window closed ${iso(closesAt)}` : `the 24-hour window is closed: no message from the person on ${channel} in it`, closesAt: iso(closesAt) };
    }
    return { channel, open: true, reason: windowMs ? `open until ${iso(closesAt)}` : 'open', closesAt: iso(closesAt) };
  });
  return {
    contact: { id: contact.id, name: contact.name, attributes: contact.attributes, createdAt: contact.createdAt, mergedContactIds: contact.mergedContactIds },
    identities,
    merges: mergeViews,
    suggestions: suggestionViews,
    episodes,
    nextBefore: page.nextCursor,
    channels,
    seq: Math.max(0, ...page.events.map((e) => e.seq)),
  };
}
