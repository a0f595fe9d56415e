/**
 * Handoff: moving a conversation bot to human or agent to agent, with everything the receiver needs in
 * one HandoffPacket (DESIGN.md, Handoff), and the TaskRouter-style reservation around it: an offer to one
 * agent that expires after a timeout and escalates to the next candidate, or a queue anyone may take.
 *
 * All state lives on the timeline of the conversation's contact, as events whose kinds start with
 * `handoff`, so it survives restarts, is shared by every worker on the store, and reads back with
 * handoffState(). Every write is an appendEvent with an idempotency key derived from the state it
 * moves on from, so a retried or concurrent call writes once.
 *
 *   handoff            a handoff starts; its event id is the handoffId; offered to an agent or queued
 *   handoff_offered    a later offer of the same handoff (after an expiry or a release): offered or queued
 *   handoff_expired    an offer was not accepted in time
 *   handoff_accepted   an agent took it (the conversation is assigned to the agent)
 *   handoff_released   the agent gave it back to the pool (unassigned, queued)
 *   handoff_resolved   done; the conversation is resolved, which frees the agent's capacity
 */
import { z } from 'zod';
import { OmnithreadError } from '../errors';
import { Conversation, HANDOFF_EVENT_KINDS, TimelineEvent, TimestampSchema, parseInput, toIso, toMs } from '../model';
import type { Omnithread } from '../omnithread';
import { REPLY_WINDOWS_MS } from '../reply';
import { AgentIdSchema } from './roster';
import { Classification, SentimentSchema, UrgencySchema } from './types';

export { HANDOFF_EVENT_KINDS };
export type HandoffEventKind = (typeof HANDOFF_EVENT_KINDS)[number];

export const HANDOFF_PRIORITIES = ['normal', 'high', 'urgent'] as const;
export type HandoffPriority = (typeof HANDOFF_PRIORITIES)[number];
/** Minutes until a first answer is due, by priority. */
export const DEFAULT_SLA_MINUTES: Readonly<Record<HandoffPriority, number>> = Object.freeze({ urgent: 15, high: 60, normal: 240 });
export const DEFAULT_OFFER_TIMEOUT_SECONDS = 120;
export const DEFAULT_HANDOFF_MAX_TOKENS = 1500;
export const DEFAULT_QUEUE = 'default';

const ConversationIdSchema = z.string().trim().min(1, 'needs the conversation id').max(64);
const QueueSchema = z.string().trim().min(1, 'must not be empty').max(128);

const ClassificationSchema = z
  .object({
    intent: z.string().min(1).max(128),
    language: z.string().min(1).max(35),
    sentiment: SentimentSchema,
    urgency: UrgencySchema,
    confidence: z.number().min(0).max(1),
    wantsHuman: z.boolean(),
    source: z.enum(['rules', 'llm', 'chat-model']),
    fallback: z.object({ from: z.enum(['llm', 'chat-model']), reason: z.string() }).optional(),
    reasons: z.array(z.string()),
  });

export const HandOffInputSchema = z
  .object({
    conversationId: ConversationIdSchema,
    /** The agent offered the conversation; absent: unassigned, waiting in `queue`. */
    toAgentId: AgentIdSchema.optional(),
    queue: QueueSchema.optional(),
    reason: z.string().trim().min(1, 'needs a reason (why the conversation is handed off)').max(2000),
    /** The bot or agent handing off. */
    fromAgentId: AgentIdSchema.optional(),
    /** What the bot already tried. */
    botAttempts: z.array(z.string().trim().min(1).max(2000)).max(50).default([]),
    classification: ClassificationSchema.optional(),
    /** Default: from the classification (high urgency is high priority), else normal. */
    priority: z.enum(HANDOFF_PRIORITIES).optional(),
    /** Default: an extractive summary (the customer's first message and the latest ones). */
    summary: z.string().trim().min(1).max(20_000).optional(),
    maxTokens: z.number().int('must be a whole number').min(50, 'must be at least 50').max(200_000).default(DEFAULT_HANDOFF_MAX_TOKENS),
    /** Default by priority: urgent 15, high 60, normal 240. */
    slaMinutes: z.number().positive('must be more than 0').max(525_600).optional(),
    offerTimeoutSeconds: z.number().int('must be a whole number').min(1, 'must be at least 1').max(604_800).default(DEFAULT_OFFER_TIMEOUT_SECONDS),
    now: TimestampSchema.optional(),
    /** Makes handing off idempotent: a second call with the same key returns the first handoff. */
    idempotencyKey: z.string().min(1).max(400).optional(),
  })
  .strict();
export type HandOffInput = z.input<typeof HandOffInputSchema>;

export const AcceptHandoffInputSchema = z
  .object({
    handoffId: z.string().trim().min(1).max(64).optional(),
    conversationId: ConversationIdSchema.optional(),
    agentId: AgentIdSchema,
    now: TimestampSchema.optional(),
  })
  .strict()
  .refine((i) => i.handoffId || i.conversationId, { message: 'needs the handoffId or the conversationId', path: ['conversationId'] });
export type AcceptHandoffInput = z.input<typeof AcceptHandoffInputSchema>;

export const ReleaseHandoffInputSchema = z
  .object({ conversationId: ConversationIdSchema, agentId: AgentIdSchema, reason: z.string().trim().max(2000).optional(), now: TimestampSchema.optional() })
  .strict();
export type ReleaseHandoffInput = z.input<typeof ReleaseHandoffInputSchema>;

export const ResolveHandoffInputSchema = z.object({ conversationId: ConversationIdSchema, agentId: AgentIdSchema.optional(), now: TimestampSchema.optional() }).strict();
export type ResolveHandoffInput = z.input<typeof ResolveHandoffInputSchema>;

const EscalateInputSchema = z.object({ conversationId: ConversationIdSchema, now: TimestampSchema.optional() }).strict();
export interface EscalateInput {
  conversationId: string;
  now?: string | number;
  /** The next agent to offer to, given the agents offered already (to leave out); undefined: queue it. */
  nextCandidate: (excluded: string[]) => Promise<string | undefined>;
}

export interface ChannelWindow {
  channel: string;
  /** The person's latest inbound message on this channel, or null when they never wrote on it. */
  lastInboundAt: string | null;
  /** True when the channel has no reply window, or the window is still open. */
  open: boolean;
  /** When the window closes (closed) for a channel with one; null for channels without a window. */
  closesAt: string | null;
}

export interface HandoffPacket {
  handoffId: string;
  conversationId: string;
  contact: { id: string; name: string | null; identities: { kind: string; value: string; scope: string | null; trust: string }[] };
  transcript: string;
  summary: string;
  intent: string | null;
  sentiment: Classification['sentiment'] | null;
  language: string | null;
  priority: HandoffPriority;
  botAttempts: string[];
  reason: string;
  from: string | null;
  to: string | null;
  queue: string | null;
  status: 'offered' | 'queued';
  offeredAt: string;
  expiresAt: string | null;
  slaDueAt: string;
  channelWindows: ChannelWindow[];
}

export type HandoffStatus = 'offered' | 'queued' | 'expired' | 'accepted' | 'resolved';

export interface HandoffState {
  handoffId: string;
  conversationId: string;
  contactId: string;
  status: HandoffStatus;
  /** Who the current offer is for (status offered or expired). */
  offeredTo: string | null;
  queue: string | null;
  /** Who accepted it (status accepted or resolved). */
  agentId: string | null;
  from: string | null;
  reason: string;
  priority: HandoffPriority;
  startedAt: string;
  /** When the current offer was made, and when it expires (null when queued). */
  offeredAt: string;
  expiresAt: string | null;
  slaDueAt: string;
  offerTimeoutSeconds: number;
  /** Every agent offered this handoff so far, in order. */
  offered: string[];
  /** The event that made the current offer (handoff or handoff_offered): escalation moves on from it. */
  offerEventId: string;
  lastEventId: string;
  events: TimelineEvent[];
}

// ---------------------------------------------------------------------------------------------
// Conversation lookup
// ---------------------------------------------------------------------------------------------

/** The conversation with this id and the person (root contact) it belongs to. */
const lookUpConversation = (ot: Omnithread, conversationId: string) => ot.getConversation(conversationId);

const clockOf = (ot: Omnithread): number => ot.now();

async function conversationEvents(ot: Omnithread, contactId: string, conversationId: string, kinds?: readonly string[]): Promise<TimelineEvent[]> {
  const events: TimelineEvent[] = [];
  let cursor: string | undefined;
  do {
    const page = await ot.timeline(contactId, { conversationId, ...(kinds ? { kinds: [...kinds] } : {}), limit: 1000, ...(cursor ? { cursor } : {}) });
    events.push(...page.events);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return events;
}

// ---------------------------------------------------------------------------------------------
// Pure parts
// ---------------------------------------------------------------------------------------------

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * An extractive summary of a conversation: the customer's first message and their latest ones (up to
 * three), each clipped, then the last answer we gave if any.
 */
export function extractiveSummary(events: readonly TimelineEvent[], maxChars = 240): string {
  const messages = events.filter((e) => e.kind === 'message' && e.text.trim());
  const inbound = messages.filter((e) => e.direction === 'inbound');
  if (!inbound.length) return 'The customer has not written yet.';
  const [first] = inbound;
  const latest = inbound.slice(1).slice(-3);
  const parts = [`Customer first wrote (${first.channel ?? 'no channel'}, ${first.occurredAt.slice(0, 16).replace('T', ' ')}): "${clip(first.text, maxChars)}"`];
  if (latest.length) parts.push(`Latest: ${latest.map((e) => `"${clip(e.text, maxChars)}" (${e.channel ?? 'no channel'})`).join('; ')}`);
  const lastOut = [...messages].reverse().find((e) => e.direction === 'outbound');
  if (lastOut && Date.parse(lastOut.occurredAt) >= Date.parse(first.occurredAt)) parts.push(`Our last answer: "${clip(lastOut.text, maxChars)}"`);
  parts.push(`${inbound.length} customer message${inbound.length > 1 ? 's' : ''} on ${[...new Set(inbound.map((e) => e.channel ?? 'no channel'))].join(', ')}.`);
  return parts.join('\n');
}

/** Reply windows per channel from the person's latest inbound messages (any order) at `now`. */
export function channelWindows(inbound: readonly TimelineEvent[], channels: readonly string[], now: number): ChannelWindow[] {
  const latest = new Map<string, number>();
  for (const e of inbound) {
    if (!e.channel || e.direction !== 'inbound') continue;
    const at = Date.parse(e.occurredAt);
    if ((latest.get(e.channel) ?? -Infinity) < at) latest.set(e.channel, at);
  }
  const all = [...new Set([...latest.keys(), ...channels])];
  return all.map((channel) => {
    const last = latest.get(channel);
    const window = REPLY_WINDOWS_MS[channel];
    if (window === undefined) return { channel, lastInboundAt: last === undefined ? null : toIso(last), open: true, closesAt: null };
    if (last === undefined) return { channel, lastInboundAt: null, open: false, closesAt: null };
    return { channel, lastInboundAt: toIso(last), open: now - last <= window, closesAt: toIso(last + window) };
  });
}

export function priorityOf(classification: Pick<Classification, 'urgency' | 'sentiment'> | undefined): HandoffPriority {
  if (!classification) return 'normal';
  if (classification.urgency === 'high') return classification.sentiment === 'negative' ? 'urgent' : 'high';
  return 'normal';
}

/** Folds the handoff events of a conversation (chronological) into the state of its latest handoff. */
export function foldHandoff(events: readonly TimelineEvent[], contactId: string, conversationId: string): HandoffState | undefined {
  const startIndex = events.map((e) => e.kind).lastIndexOf('handoff');
  if (startIndex < 0) return undefined;
  const start = events[startIndex];
  const d = start.data;
  const handoffId = start.id;
  const state: HandoffState = {
    handoffId,
    conversationId,
    contactId,
    status: d.status === 'queued' ? 'queued' : 'offered',
    offeredTo: str(d.to),
    queue: str(d.queue),
    agentId: null,
    from: str(d.from),
    reason: str(d.reason) ?? start.text,
    priority: (HANDOFF_PRIORITIES as readonly string[]).includes(String(d.priority)) ? (d.priority as HandoffPriority) : 'normal',
    startedAt: start.occurredAt,
    offeredAt: start.occurredAt,
    expiresAt: str(d.expiresAt),
    slaDueAt: str(d.slaDueAt) ?? start.occurredAt,
    offerTimeoutSeconds: typeof d.offerTimeoutSeconds === 'number' ? d.offerTimeoutSeconds : DEFAULT_OFFER_TIMEOUT_SECONDS,
    offered: str(d.to) ? [str(d.to)!] : [],
    offerEventId: start.id,
    lastEventId: start.id,
    events: [start],
  };
  for (const e of events.slice(startIndex + 1)) {
    if (e.data.handoffId !== handoffId) continue;
    state.events.push(e);
    state.lastEventId = e.id;
    switch (e.kind) {
      case 'handoff_offered': {
        const to = str(e.data.to);
        state.status = e.data.status === 'queued' ? 'queued' : 'offered';
        state.offeredTo = to;
        state.queue = str(e.data.queue) ?? state.queue;
        state.agentId = null;
        state.offeredAt = e.occurredAt;
        state.expiresAt = str(e.data.expiresAt);
        state.offerEventId = e.id;
        if (to && !state.offered.includes(to)) state.offered.push(to);
        break;
      }
      case 'handoff_expired':
        state.status = 'expired';
        break;
      case 'handoff_accepted':
        state.status = 'accepted';
        state.agentId = str(e.data.agentId);
        state.expiresAt = null;
        break;
      case 'handoff_released':
        state.status = 'queued';
        state.agentId = null;
        state.offeredTo = null;
        state.queue = str(e.data.queue) ?? state.queue ?? DEFAULT_QUEUE;
        state.offeredAt = e.occurredAt;
        state.expiresAt = null;
        state.offerEventId = e.id;
        break;
      case 'handoff_resolved':
        state.status = 'resolved';
        state.agentId = str(e.data.agentId) ?? state.agentId;
        state.expiresAt = null;
        break;
    }
  }
  return state;
}

// ---------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------

async function requireAgent(ot: Omnithread, agentId: string, field: string): Promise<void> {
  if (!(await ot.roster().get(agentId))) {
    throw new OmnithreadError('NOT_FOUND', `Agent "${agentId}" was not found in the roster of this workspace`, { field, details: { id: agentId } });
  }
}

function requireOpen(conversation: Conversation, what: string): void {
  if (conversation.status !== 'open') {
    throw new OmnithreadError('CONFLICT', `Conversation ${conversation.id} is ${conversation.status}; only an open conversation can be ${what}`, { field: 'conversationId' });
  }
}

/** The current handoff of a conversation, or undefined when it was never handed off. NOT_FOUND for an unknown conversation. */
export async function handoffState(ot: Omnithread, conversationId: string): Promise<HandoffState | undefined> {
  const id = parseInput(ConversationIdSchema, conversationId, 'conversation id');
  const { contactId } = await lookUpConversation(ot, id);
  return foldHandoff(await conversationEvents(ot, contactId, id, HANDOFF_EVENT_KINDS), contactId, id);
}

async function requireState(ot: Omnithread, conversationId: string): Promise<HandoffState> {
  const state = await handoffState(ot, conversationId);
  if (!state) throw new OmnithreadError('NOT_FOUND', `Conversation ${conversationId} has not been handed off`, { field: 'conversationId', details: { id: conversationId } });
  return state;
}

/** Hands a conversation off: records a `handoff` event (an offer to the agent, or queued) and returns the packet. */
export async function handOff(ot: Omnithread, input: HandOffInput): Promise<HandoffPacket> {
  const req = parseInput(HandOffInputSchema, input, 'handoff');
  const now = toMs(req.now, clockOf(ot));
  const { conversation, contactId } = await lookUpConversation(ot, req.conversationId);
  requireOpen(conversation, 'handed off');
  if (req.toAgentId) await requireAgent(ot, req.toAgentId, 'toAgentId');

  const [contact, transcript, events, inbound] = await Promise.all([
    ot.getContact(contactId),
    ot.transcript(contactId, { maxTokens: req.maxTokens }),
    conversationEvents(ot, contactId, conversation.id, ['message']),
    ot.recentInbound(contactId),
  ]);
  const priority = req.priority ?? priorityOf(req.classification);
  const slaMinutes = req.slaMinutes ?? DEFAULT_SLA_MINUTES[priority];
  const status: HandoffPacket['status'] = req.toAgentId ? 'offered' : 'queued';
  const queue = req.toAgentId ? (req.queue ?? null) : (req.queue ?? DEFAULT_QUEUE);
  const expiresAt = req.toAgentId ? toIso(now + req.offerTimeoutSeconds * 1000) : null;
  const slaDueAt = toIso(now + slaMinutes * 60_000);
  const summary = req.summary ?? extractiveSummary(events);
  const c = req.classification;

  const recorded = await ot.appendEvent(contactId, {
    kind: 'handoff',
    conversationId: conversation.id,
    occurredAt: now,
    text: req.toAgentId ? `Handed off to ${req.toAgentId}: ${req.reason}` : `Handed off to queue ${queue}: ${req.reason}`,
    data: {
      status,
      to: req.toAgentId ?? null,
      from: req.fromAgentId ?? null,
      queue,
      reason: req.reason,
      priority,
      offeredAt: toIso(now),
      expiresAt,
      slaDueAt,
      offerTimeoutSeconds: req.offerTimeoutSeconds,
      botAttempts: req.botAttempts,
      summary,
      ...(c ? { classification: { intent: c.intent, language: c.language, sentiment: c.sentiment, urgency: c.urgency, confidence: c.confidence } } : {}),
    },
    ...(req.idempotencyKey ? { idempotencyKey: `handoff\n${conversation.id}\n${req.idempotencyKey}` } : {}),
  });
  if (!recorded.duplicate && !req.toAgentId) await ot.assignConversation(conversation.id, null);
  const event = recorded.event;
  const data = event.data;

  return {
    handoffId: event.id,
    conversationId: conversation.id,
    contact: {
      id: contact.id,
      name: contact.name,
      identities: contact.identities.map((i) => ({ kind: i.kind, value: i.value, scope: i.scope, trust: i.trust })),
    },
    // ot.transcript always keeps its header and section titles, which can overrun a small budget: clip to it.
    transcript: transcript.text.length > req.maxTokens * 4 ? `${transcript.text.slice(0, req.maxTokens * 4 - 1)}…` : transcript.text,
    summary: str(data.summary) ?? summary,
    intent: c?.intent ?? null,
    sentiment: c?.sentiment ?? null,
    language: c?.language ?? null,
    priority: (data.priority as HandoffPriority) ?? priority,
    botAttempts: Array.isArray(data.botAttempts) ? (data.botAttempts as string[]) : req.botAttempts,
    reason: str(data.reason) ?? req.reason,
    from: str(data.from),
    to: str(data.to),
    queue: str(data.queue),
    status: data.status === 'queued' ? 'queued' : 'offered',
    offeredAt: str(data.offeredAt) ?? toIso(now),
    expiresAt: str(data.expiresAt),
    slaDueAt: str(data.slaDueAt) ?? slaDueAt,
    channelWindows: channelWindows(inbound, conversation.channels, now),
  };
}

/**
 * An agent accepts the handoff: only the agent offered it, or anyone while it is queued. Assigns the
 * conversation to the agent and records `handoff_accepted`. Accepting again by the same agent changes
 * nothing; an expired offer, or one taken by someone else, is a CONFLICT.
 */
export async function acceptHandoff(ot: Omnithread, input: AcceptHandoffInput): Promise<HandoffState> {
  const req = parseInput(AcceptHandoffInputSchema, input, 'handoff acceptance');
  const now = toMs(req.now, clockOf(ot));
  const conversationId = req.conversationId ?? (await conversationOfHandoff(ot, req.handoffId!));
  const state = await requireState(ot, conversationId);
  if (req.handoffId && req.handoffId !== state.handoffId) {
    throw new OmnithreadError('CONFLICT', `Handoff ${req.handoffId} was superseded by handoff ${state.handoffId} of conversation ${conversationId}`, { field: 'handoffId' });
  }
  if (state.status === 'accepted') {
    if (state.agentId === req.agentId) return state;
    throw new OmnithreadError('CONFLICT', `Handoff ${state.handoffId} was already accepted by ${state.agentId}`, { field: 'agentId' });
  }
  if (state.status === 'resolved') throw new OmnithreadError('CONFLICT', `Handoff ${state.handoffId} is already resolved`, { field: 'conversationId' });
  const expired = state.status === 'expired' || (state.status === 'offered' && state.expiresAt !== null && now > Date.parse(state.expiresAt));
  if (expired) {
    throw new OmnithreadError('CONFLICT', `The offer of handoff ${state.handoffId} to ${state.offeredTo} expired at ${state.expiresAt}; it can no longer be accepted`, {
      field: 'agentId',
      details: { expiresAt: state.expiresAt },
    });
  }
  if (state.status === 'offered' && state.offeredTo !== req.agentId) {
    throw new OmnithreadError('CONFLICT', `Handoff ${state.handoffId} is offered to ${state.offeredTo}, not to ${req.agentId}`, { field: 'agentId' });
  }
  await requireAgent(ot, req.agentId, 'agentId');
  const { conversation } = await lookUpConversation(ot, conversationId);
  requireOpen(conversation, 'accepted');

  // One acceptance per offer: two agents taking a queued handoff at once both write under this key, and
  // only the first is recorded; the other learns who won.
  const recorded = await ot.appendEvent(state.contactId, {
    kind: 'handoff_accepted',
    conversationId,
    occurredAt: now,
    text: `Accepted by ${req.agentId}`,
    data: { handoffId: state.handoffId, agentId: req.agentId, offerEventId: state.offerEventId },
    idempotencyKey: `handoff_accepted\n${state.offerEventId}`,
  });
  const winner = str(recorded.event.data.agentId);
  if (winner !== req.agentId) throw new OmnithreadError('CONFLICT', `Handoff ${state.handoffId} was already accepted by ${winner}`, { field: 'agentId' });
  await ot.assignConversation(conversationId, req.agentId);
  return requireState(ot, conversationId);
}

async function conversationOfHandoff(ot: Omnithread, handoffId: string): Promise<string> {
  const event = await ot.getEvent(handoffId);
  if (event?.kind !== 'handoff' || !event.conversationId) {
    throw new OmnithreadError('NOT_FOUND', `Handoff "${handoffId}" was not found in this workspace`, { field: 'handoffId', details: { id: handoffId } });
  }
  return event.conversationId;
}

/** The agent gives the conversation back to the pool: unassigned, queued, anyone may accept it. */
export async function releaseHandoff(ot: Omnithread, input: ReleaseHandoffInput): Promise<HandoffState> {
  const req = parseInput(ReleaseHandoffInputSchema, input, 'handoff release');
  const now = toMs(req.now, clockOf(ot));
  const state = await requireState(ot, req.conversationId);
  const holds = (state.status === 'accepted' && state.agentId === req.agentId) || (state.status === 'offered' && state.offeredTo === req.agentId);
  if (!holds) {
    const who = state.status === 'accepted' ? `accepted by ${state.agentId}` : state.status === 'offered' ? `offered to ${state.offeredTo}` : state.status;
    throw new OmnithreadError('CONFLICT', `Handoff ${state.handoffId} is ${who}; ${req.agentId} cannot release it`, { field: 'agentId' });
  }
  await ot.appendEvent(state.contactId, {
    kind: 'handoff_released',
    conversationId: req.conversationId,
    occurredAt: now,
    text: `Released by ${req.agentId}${req.reason ? `: ${req.reason}` : ''}`,
    data: { handoffId: state.handoffId, agentId: req.agentId, reason: req.reason ?? null, queue: state.queue ?? DEFAULT_QUEUE },
    idempotencyKey: `handoff_released\n${state.lastEventId}`,
  });
  await ot.assignConversation(req.conversationId, null);
  return requireState(ot, req.conversationId);
}

/** Records `handoff_resolved` and resolves the conversation, which frees the agent's capacity. */
export async function resolveHandoff(ot: Omnithread, input: ResolveHandoffInput): Promise<HandoffState> {
  const req = parseInput(ResolveHandoffInputSchema, input, 'handoff resolution');
  const now = toMs(req.now, clockOf(ot));
  const state = await requireState(ot, req.conversationId);
  if (state.status === 'resolved') return state;
  if (req.agentId && state.status === 'accepted' && state.agentId !== req.agentId) {
    throw new OmnithreadError('CONFLICT', `Handoff ${state.handoffId} was accepted by ${state.agentId}; ${req.agentId} cannot resolve it`, { field: 'agentId' });
  }
  await ot.appendEvent(state.contactId, {
    kind: 'handoff_resolved',
    conversationId: req.conversationId,
    occurredAt: now,
    text: `Resolved${req.agentId ?? state.agentId ? ` by ${req.agentId ?? state.agentId}` : ''}`,
    data: { handoffId: state.handoffId, agentId: req.agentId ?? state.agentId },
    idempotencyKey: `handoff_resolved\n${state.handoffId}`,
  });
  const { conversation } = await lookUpConversation(ot, req.conversationId);
  if (conversation.status === 'open') await ot.resolveConversation(req.conversationId);
  return requireState(ot, req.conversationId);
}

export interface EscalateResult {
  /** True when this call expired an offer and made the next one (or queued it). */
  escalated: boolean;
  /** Why nothing was done, or what was. */
  reason: string;
  state: HandoffState | undefined;
}

/**
 * When the current offer was not accepted within its timeout: records `handoff_expired` and offers the
 * handoff to the next candidate (leaving out every agent offered already), or queues it. Call it when
 * the next event or a scheduled check sees the conversation. Idempotent: the expiry and the next offer
 * are keyed by the offer they move on from, so a second call, at once or later, writes nothing more.
 */
export async function escalateExpiredOffers(ot: Omnithread, input: EscalateInput): Promise<EscalateResult> {
  const { nextCandidate, ...rest } = input;
  const req = parseInput(EscalateInputSchema, rest, 'escalation');
  if (typeof nextCandidate !== 'function') {
    throw new OmnithreadError('INVALID_INPUT', 'Invalid escalation: nextCandidate: must be a function (excluded agent ids) => next agent id or undefined', { field: 'nextCandidate' });
  }
  const now = toMs(req.now, clockOf(ot));
  const state = await handoffState(ot, req.conversationId);
  if (!state) return { escalated: false, reason: 'the conversation has not been handed off', state };
  if (state.status !== 'offered' && state.status !== 'expired') return { escalated: false, reason: `the handoff is ${state.status}`, state };
  if (state.status === 'offered' && (state.expiresAt === null || now <= Date.parse(state.expiresAt))) {
    return { escalated: false, reason: `the offer to ${state.offeredTo} is open until ${state.expiresAt}`, state };
  }
  const offerKey = state.offerEventId;
  const expired = await ot.appendEvent(state.contactId, {
    kind: 'handoff_expired',
    conversationId: state.conversationId,
    occurredAt: now,
    text: `The offer to ${state.offeredTo} expired at ${state.expiresAt}`,
    data: { handoffId: state.handoffId, agentId: state.offeredTo, expiresAt: state.expiresAt, offerEventId: offerKey },
    idempotencyKey: `handoff_expired\n${offerKey}`,
  });

  const raw = await nextCandidate([...state.offered]);
  let next: string | undefined;
  if (raw !== undefined) {
    next = parseInput(AgentIdSchema, raw, 'next candidate');
    if (state.offered.includes(next)) {
      throw new OmnithreadError('INVALID_INPUT', `Invalid next candidate: ${next} was offered this handoff already`, { field: 'nextCandidate' });
    }
    await requireAgent(ot, next, 'nextCandidate');
  }
  const queue = state.queue ?? DEFAULT_QUEUE;
  const expiresAt = next ? toIso(now + state.offerTimeoutSeconds * 1000) : null;
  const offer = await ot.appendEvent(state.contactId, {
    kind: 'handoff_offered',
    conversationId: state.conversationId,
    occurredAt: now,
    text: next ? `Offered to ${next} after ${state.offeredTo} did not accept` : `Queued in ${queue}: no other agent to offer to`,
    data: {
      handoffId: state.handoffId,
      status: next ? 'offered' : 'queued',
      to: next ?? null,
      queue: next ? state.queue : queue,
      expiresAt,
      previousOfferEventId: offerKey,
    },
    idempotencyKey: `handoff_offered\n${offerKey}`,
  });
  const after = await handoffState(ot, req.conversationId);
  if (offer.duplicate) return { escalated: false, reason: `the offer ${offerKey} was escalated already`, state: after };
  if (!next) await ot.assignConversation(state.conversationId, null);
  return {
    escalated: true,
    reason: `${expired.duplicate ? 'expired earlier; ' : ''}${next ? `offered to ${next}` : `queued in ${queue}`} after the offer to ${state.offeredTo} expired`,
    state: after,
  };
}
