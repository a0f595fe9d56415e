/**
 * The desk's JSON API, one URL for everything (so it works behind a single n8n webhook): the operation is
 * the `op` query parameter, reads are GETs, writes are POSTs with a JSON body. This file is the contract
 * between the server (./api.ts) and the page (./page/): zod schemas for what the page sends, types for what
 * it gets back. The page imports types only, so nothing of zod reaches the browser bundle.
 *
 * Every write needs the session cookie and the header `X-Omnithread-Csrf` with the token `op=me` returns;
 * a cross-site request (Origin of another host, Sec-Fetch-Site: cross-site) is refused before anything
 * else. Errors are `{ error: string, code: string, field?: string }` with 400, 401, 403, 404, 409, 429 or 503.
 */
import { z } from 'zod';

export const CSRF_HEADER = 'x-omnithread-csrf';
export const SESSION_COOKIE = 'omnithread_desk';

export type DeskRole = 'agent' | 'admin';
export const DeskRoleSchema = z.enum(['agent', 'admin']);
export const QUEUES = ['waiting', 'mine', 'open', 'resolved'] as const;
export type Queue = (typeof QUEUES)[number];

const Id = z.string().trim().min(1).max(128);
const Text = z.string().max(100_000);

// ---------------------------------------------------------------------------------------------
// What the page sends (POST bodies, by op)
// ---------------------------------------------------------------------------------------------

export const WRITE_SCHEMAS = {
  /** Password sign-in: the agent id of the roster and the password the admin set. */
  signin: z.object({ agentId: Id, password: z.string().min(1).max(1024) }).strict(),
  /** Sign-in link: the token from the link's fragment (`#signin=<token>`), used once. */
  'signin-link': z.object({ token: z.string().min(16).max(256) }).strict(),
  signout: z.object({}).strict(),
  /**
   * Reply through the Reply core, exactly once per clientId. `channel`: 'same' (the conversation's), or a
   * channel id of the person. `inReplyTo`: the inbound event answered (default: the latest of
   * `conversationId` on that channel, else of that conversation, so the answer joins the conversation the agent has open;
   * without `conversationId`, the person's latest).
   */
  reply: z
    .object({
      contactId: Id,
      conversationId: Id.optional(),
      inReplyTo: Id.optional(),
      channel: z.string().trim().min(1).max(32).default('same'),
      text: Text.refine((t) => t.trim().length > 0, 'needs a text to send'),
      clientId: z.string().trim().min(8).max(128),
    })
    .strict(),
  /** An internal note (never sent to the customer). */
  note: z.object({ contactId: Id, conversationId: Id.optional(), text: Text.refine((t) => t.trim().length > 0, 'needs a text'), clientId: z.string().trim().min(8).max(128) }).strict(),
  /** Assign to an agent; agentId absent: to the signed-in agent (assign to self); null: unassign (admin or the assignee). */
  assign: z.object({ conversationId: Id, agentId: Id.nullable().optional() }).strict(),
  accept: z.object({ conversationId: Id }).strict(),
  release: z.object({ conversationId: Id, reason: z.string().trim().max(2000).optional() }).strict(),
  /** Transfer to another agent (an offer they accept) or to a queue. */
  transfer: z
    .object({ conversationId: Id, toAgentId: Id.optional(), queue: z.string().trim().min(1).max(128).optional(), reason: z.string().trim().min(1).max(2000) })
    .strict()
    .refine((t) => t.toAgentId || t.queue, { message: 'needs toAgentId or queue', path: ['toAgentId'] }),
  resolve: z.object({ conversationId: Id }).strict(),
  /** Asks the customer for a rating on the conversation's channel and records `csat_requested`. */
  csat: z.object({ conversationId: Id, text: z.string().trim().min(1).max(2000).optional() }).strict(),
  'merge-accept': z.object({ suggestionId: Id }).strict(),
  'merge-dismiss': z.object({ suggestionId: Id }).strict(),
  unmerge: z.object({ mergeId: Id }).strict(),
  /** Admin: gives a roster agent desk access (role) and optionally sets their password (min 10 chars). */
  'agent-access': z.object({ agentId: Id, role: DeskRoleSchema, password: z.string().min(10).max(1024).optional() }).strict(),
  /** Admin: issues a one-time sign-in link for an agent (expires after `hours`, default 24). */
  'agent-link': z.object({ agentId: Id, hours: z.number().positive().max(24 * 30).optional() }).strict(),
  /** Admin: removes an agent's desk access and ends their sessions. */
  'agent-revoke': z.object({ agentId: Id }).strict(),
} as const;
export type WriteOp = keyof typeof WRITE_SCHEMAS;
export type WriteBody<Op extends WriteOp> = z.input<(typeof WRITE_SCHEMAS)[Op]>;

// ---------------------------------------------------------------------------------------------
// What the page gets back
// ---------------------------------------------------------------------------------------------

export interface DeskError {
  error: string;
  code: string;
  field?: string;
}

/** GET op=me (and the answer of signin / signin-link). */
export interface Me {
  agent: { id: string; name: string; kind: 'human' | 'ai'; role: DeskRole; status: string };
  /** Send it as the X-Omnithread-Csrf header on every POST. */
  csrf: string;
  workspace: string;
  sessionExpiresAt: string;
  /** Channels this desk can send on (it has their accounts), for the composer. */
  sendChannels: string[];
  /** The roster, for transfer and assign (id, name, kind, status). */
  agents: { id: string; name: string; kind: 'human' | 'ai'; status: string }[];
  now: string;
}

export interface LastMessage {
  text: string;
  direction: 'inbound' | 'outbound' | null;
  channel: string | null;
  at: string;
  author: string | null;
}

export interface HandoffSummary {
  handoffId: string;
  status: 'offered' | 'queued' | 'expired' | 'accepted' | 'resolved';
  queue: string | null;
  offeredTo: string | null;
  agentId: string | null;
  reason: string;
  priority: 'normal' | 'high' | 'urgent';
  slaDueAt: string;
}

/** One row of the inbox: a conversation and its person. */
export interface InboxItem {
  conversationId: string;
  contactId: string;
  name: string | null;
  /** A handle to show when there is no name (an email, a phone...). */
  handle: string | null;
  status: 'open' | 'resolved' | 'idle';
  channels: string[];
  lastChannel: string | null;
  lastMessage: LastMessage | null;
  /** When the customer's oldest unanswered message came in; null when answered. */
  waitingSince: string | null;
  /** The SLA due time: the handoff's, else waitingSince + the desk's SLA minutes. */
  slaDueAt: string | null;
  slaBreached: boolean;
  priority: 'normal' | 'high' | 'urgent';
  intent: string | null;
  assignedAgentId: string | null;
  handoff: HandoffSummary | null;
  openedAt: string;
  lastActivityAt: string;
  closedAt: string | null;
}

/** GET op=inbox&queue=<Queue>&q=<search>&cursor=<cursor>&limit=<n> */
export interface InboxPage {
  queue: Queue;
  counts: Record<Queue, number>;
  items: InboxItem[];
  nextCursor: string | null;
  /** The change cursor at the time of reading: pass it to op=changes. */
  seq: number;
}

/** GET op=changes&since=<seq>&wait=<seconds, max 25>: answers as soon as anything changed, or at the wait's end. */
export interface Changes {
  seq: number;
  /** People whose timeline changed since `since` (at most 200; more: `many`). */
  contactIds: string[];
  many: boolean;
}

export interface IdentityView {
  kind: string;
  value: string;
  scope: string | null;
  trust: 'verified' | 'channel' | 'asserted';
  contactId: string;
  shared?: string;
  firstSeenAt: string;
  lastSeenAt: string;
  /** How this handle came to belong to the person: "first seen on whatsapp", or the merge that brought it. */
  explanation: string;
}

export interface MergeView {
  id: string;
  survivorId: string;
  mergedId: string;
  rule: string;
  evidence: Record<string, unknown>;
  actor: string;
  createdAt: string;
  undoneAt: string | null;
  /** A human reading of the rule and evidence. */
  explanation: string;
}

export interface SuggestionView {
  id: string;
  /** The other contact (not this person) and what we know of them. */
  other: { id: string; name: string | null; identities: { kind: string; value: string; scope: string | null; trust: string }[] };
  reason: string;
  evidence: Record<string, unknown>;
  createdAt: string;
}

export interface TimelineEventView {
  id: string;
  seq: number;
  kind: string;
  channel: string | null;
  direction: 'inbound' | 'outbound' | null;
  text: string;
  occurredAt: string;
  conversationId: string | null;
  /** The author of an outbound message, note or action: { id, name, type } when known. */
  author: { id: string | null; name: string | null; type: string } | null;
  /** What to show beside the text: attachments, edit history, delivery/read status, the route decision, the handoff packet. */
  attachments: { type: string; url: string | null; name: string | null }[];
  edited: boolean;
  /** Latest delivery status of an outbound message: sent, delivered, read, failed; pending/unknown while sending. */
  status: string | null;
  data: Record<string, unknown>;
}

export interface EpisodeView {
  conversationId: string;
  status: 'open' | 'resolved' | 'idle';
  channels: string[];
  openedAt: string;
  closedAt: string | null;
  assignedAgentId: string | null;
  handoff: HandoffSummary | null;
  /** Chronological; a `channel_switch` event marks each switch. */
  events: TimelineEventView[];
}

export interface ChannelOption {
  channel: string;
  /** Whether a free-form message can be sent now (false: WhatsApp/Messenger/Instagram window closed, or no account). */
  open: boolean;
  reason: string;
  closesAt: string | null;
}

/** GET op=person&contactId=<id>&before=<cursor> */
export interface PersonView {
  contact: { id: string; name: string | null; attributes: Record<string, unknown>; createdAt: string; mergedContactIds: string[] };
  identities: IdentityView[];
  merges: MergeView[];
  suggestions: SuggestionView[];
  /** Oldest first; the newest episodes in full, older ones on demand (nextBefore). */
  episodes: EpisodeView[];
  /** Pass as `before` to load older events; null when everything is shown. */
  nextBefore: string | null;
  channels: ChannelOption[];
  seq: number;
}

/** GET op=agents (admin): the roster with desk access. */
export interface AgentAccessView {
  id: string;
  name: string;
  kind: 'human' | 'ai';
  status: string;
  role: DeskRole | null;
  hasPassword: boolean;
  activeSessions: number;
}

/** POST op=agent-link answer. The link is shown once; only its hash is stored. */
export interface SignInLink {
  agentId: string;
  /** `<desk url>#signin=<token>`: the token travels in the fragment, so it never reaches a server log. */
  url: string;
  token: string;
  expiresAt: string;
}

// ---------------------------------------------------------------------------------------------
// Metrics: GET op=metrics&from=<iso>&to=<iso>&bucket=<hour|day|week>&channel=<id>&agentId=<id>, and the
// Timeline Lookup node's Metrics operation (same report). Computed by shared/timeline/metrics.ts.
// ---------------------------------------------------------------------------------------------

export type MetricsBucket = 'hour' | 'day' | 'week';

export interface MetricsQuery {
  /** ISO times; a conversation counts in the period when the event that ends the measure falls in it. */
  from: string;
  to: string;
  bucket: MetricsBucket;
  channel?: string;
  agentId?: string;
}

/** Durations in seconds. The histogram's buckets are upper bounds (le), the last one Infinity as null. */
export interface Distribution {
  count: number;
  median: number | null;
  p90: number | null;
  mean: number | null;
  histogram: { le: number | null; count: number }[];
}

export interface MetricsFigures {
  conversations: number;
  resolved: number;
  firstResponseSeconds: Distribution;
  resolutionSeconds: Distribution;
  handleSeconds: Distribution;
  messagesPerResolution: number | null;
  /** Share of channel switches and handoffs after which the customer re-stated their issue (see definitions). */
  repeatRate: { rate: number | null; repeats: number; opportunities: number };
  channelSwitches: { total: number; perConversation: number | null; continued: number; continuedShare: number | null };
  csat: { responses: number; average: number | null; satisfiedShare: number | null };
  handledBy: { ai: number; human: number; aiShare: number | null };
}

export interface MetricsReport {
  query: MetricsQuery;
  generatedAt: string;
  /** Every figure's definition in words, as the README states it. */
  definitions: Record<string, string>;
  totals: MetricsFigures;
  /** One entry per bucket from `from` to `to` (empty buckets included), oldest first. */
  series: { start: string; figures: MetricsFigures }[];
  byChannel: Record<string, MetricsFigures>;
  byAgent: Record<string, MetricsFigures>;
}
