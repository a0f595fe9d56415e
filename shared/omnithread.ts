/**
 * The facade every adapter calls: one object per workspace over one open store. Each method is one
 * transaction, so what it returns is what was committed. The work itself lives in ./facade/, one module
 * per concern (ingest, records, people, history, routing); this class holds the context they share and
 * is the small API the nodes, the channels and the tests use.
 */
import { z } from 'zod';
import { AppendEventInput, ContactView, Conversation, HandleInput, MessageInput, OutboundMessageInput, StatusUpdateInput, TimelineEvent, parseInput } from './model';
import type { MergeRecord, MergeSuggestion } from './identity/contacts';
import type { Resolution } from './identity/resolve';
import { IdentityRules, IdentityRulesInput, compileRules } from './identity/rules';
import { Store } from './store';
import type { TimelineFilter, TimelinePage } from './timeline/events';
import type { Transcript, TranscriptOptions } from './timeline/transcript';
import type { FacadeContext } from './facade/context';
import { ingest } from './facade/ingest';
import { StatusResult, appendEvent, recordOutbound, recordStatus } from './facade/records';
import { OutboundOutcome, Reservation, SendLease, SendState, claimOutbound, completeOutbound, reserveOutbound } from './facade/sending';
import * as people from './facade/people';
import * as history from './facade/history';
import * as routing from './facade/routing';
import { MetricsQueryInput, metrics } from './facade/metrics';
import type { MetricsReport } from './timeline/metrics';
import { DeskData, deskData } from './facade/desk';
import type {
  AssignedConversation,
  ContactExport,
  EraseReport,
  IngestResult,
  OmnithreadRoster,
  RecordResult,
  RouteCommitResult,
  RoutingContext,
} from './facade/types';

export type * from './facade/types';

const DAY = 24 * 60 * 60 * 1000;

export const OmnithreadOptionsSchema = z
  .object({
    /** All data is scoped by workspace: one store can serve several brands or teams. */
    workspace: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1-64 letters, digits, ".", "_" or "-"').default('default'),
    /** A conversation with no message for this long ends; the next message opens a new one. Default 7 days. */
    idleTimeoutMs: z.number().int().min(60_000).default(7 * DAY),
    /** Who automatic actions are logged as in the merge log. */
    actor: z.string().min(1).max(256).default('omnithread'),
    /**
     * The provider's raw payload is kept with a message up to this many bytes (as JSON); a larger one is
     * replaced by a note of its size. 0 keeps none. Default 32 KB: a provider event is a few KB.
     */
    rawPayloadLimitBytes: z.number().int().min(0).max(10 * 1024 * 1024).default(32 * 1024),
    /**
     * How long an erase waits for the deleted bytes to leave the store's files (SQLite: a reader holding an
     * old snapshot delays the WAL checkpoint) before it reports that the purge is still pending. Default 10 s.
     */
    purgeWaitMs: z.number().int().min(0).max(600_000).default(10_000),
  })
  .strict();

export interface OmnithreadOptions extends z.input<typeof OmnithreadOptionsSchema> {
  store: Store;
  rules?: IdentityRulesInput | IdentityRules;
  /** Milliseconds since the epoch; tests pass their own clock. */
  clock?: () => number;
}

export class Omnithread {
  readonly workspace: string;
  readonly rules: IdentityRules;
  private readonly ctx: FacadeContext;

  constructor(options: OmnithreadOptions) {
    const { store, rules, clock, ...rest } = options;
    const parsed = parseInput(OmnithreadOptionsSchema, rest, 'Omnithread options');
    this.workspace = parsed.workspace;
    this.rules = compileRules(rules);
    this.ctx = {
      workspace: parsed.workspace,
      rules: this.rules,
      driver: store.driver,
      idleTimeoutMs: parsed.idleTimeoutMs,
      actor: parsed.actor,
      rawPayloadLimitBytes: parsed.rawPayloadLimitBytes,
      purgeWaitMs: parsed.purgeWaitMs,
      clock: clock ?? Date.now,
    };
  }

  /** The facade's clock (epoch ms): what it stamps writes with; routing decides on it too. */
  now(): number {
    return this.ctx.clock();
  }

  // Messages -----------------------------------------------------------------------------------

  /**
   * Records an inbound message: resolves the sender, appends the event and opens or continues the
   * person's conversation, in one transaction. A redelivery of the same provider message changes nothing
   * and says so.
   */
  ingest(input: MessageInput): Promise<IngestResult> {
    return ingest(this.ctx, input);
  }

  /** Records a message we sent (by a human, an AI or a flow). Idempotent on providerMessageId. */
  recordOutbound(contactId: string, input: OutboundMessageInput): Promise<RecordResult> {
    return recordOutbound(this.ctx, contactId, input);
  }

  /**
   * Records what happened to an earlier message or call (delivered, read, failed; a call answered or
   * completed) on the same person's timeline, once per status. A status about something Omnithread never
   * recorded (a message sent from elsewhere) is ignored: `recorded` is false.
   */
  recordStatus(input: StatusUpdateInput): Promise<StatusResult> {
    return recordStatus(this.ctx, input);
  }

  /**
   * Reserves an outbound message before it is sent, once per key, as `pending` with a lease: the first
   * call returns `reserved: true` and the lease; a later call with the same key returns that event in
   * whatever state it is (pending, sent, failed, unknown), so a re-run never sends twice. See
   * facade/sending.ts for the states. Complete it with completeOutbound.
   */
  reserveOutbound(contactId: string, key: string, input: OutboundMessageInput, options: { leaseMs?: number } = {}): Promise<Reservation> {
    return reserveOutbound(this.ctx, contactId, key, input, options);
  }

  /** Takes over a reserved message to send it again, atomically, only from the states given (see facade/sending.ts). */
  claimOutbound(eventId: string, options: { from: readonly SendState[]; leaseMs?: number }): Promise<{ claimed: boolean; event: TimelineEvent; lease?: SendLease }> {
    return claimOutbound(this.ctx, eventId, options);
  }

  /** Records how a reserved outbound message went: sent (with the provider's id), failed (not sent) or unknown. */
  completeOutbound(eventId: string, outcome: OutboundOutcome): Promise<TimelineEvent> {
    return completeOutbound(this.ctx, eventId, outcome);
  }

  /** Appends a note, an assignment or any event of your own (order_placed, csat ...) to a person's timeline. */
  appendEvent(contactId: string, input: AppendEventInput): Promise<RecordResult> {
    return appendEvent(this.ctx, contactId, input);
  }

  /** Marks a conversation resolved: the episode ends and the next message opens a new one. */
  resolveConversation(conversationId: string): Promise<Conversation> {
    return history.resolveConversation(this.ctx, conversationId);
  }

  /** Durable cursors for pollers (an IMAP mailbox's UIDVALIDITY and last UID), kept in the store. Values are JSON. */
  cursors(): { load<T>(key: string): Promise<T | undefined>; save<T>(key: string, value: T): Promise<void> } {
    return history.cursors(this.ctx);
  }

  // Identity -----------------------------------------------------------------------------------

  /**
   * Resolves handles to a contact without a message: finds, links or creates the person and explains how.
   * With `dryRun`, says what would happen and writes nothing.
   */
  resolve(inputs: HandleInput[], options: { name?: string; dryRun?: boolean } = {}): Promise<Resolution & { contact: ContactView }> {
    return people.resolve(this.ctx, inputs, options);
  }

  /** The person holding a handle (the one who used it last, if several do), or undefined. */
  findContact(input: HandleInput): Promise<ContactView | undefined> {
    return people.findContact(this.ctx, input);
  }

  /** A contact with every identity; asked for a merged contact, returns the survivor it belongs to. */
  getContact(contactId: string): Promise<ContactView> {
    return people.getContact(this.ctx, contactId);
  }

  /** Merges two contacts by hand (an agent or admin knows they are one person). The older one survives. */
  merge(contactId: string, otherContactId: string, options: { actor?: string; reason?: string } = {}): Promise<MergeRecord> {
    return people.merge(this.ctx, contactId, otherContactId, options);
  }

  /**
   * Undoes a merge exactly: the merged contact gets back its identities, conversations and events.
   * Give the merge id, or the id of the contact that was merged away.
   */
  unmerge(ref: { mergeId: string } | { contactId: string }, options: { actor?: string } = {}): Promise<MergeRecord> {
    return people.unmerge(this.ctx, ref, options);
  }

  /** The merge log of a person: every merge and unmerge involving them or anyone merged into them. */
  mergeLog(contactId: string): Promise<MergeRecord[]> {
    return people.mergeLog(this.ctx, contactId);
  }

  /** One merge by id (undone or not), or undefined when this workspace has none by that id. */
  findMerge(mergeId: string): Promise<MergeRecord | undefined> {
    return people.findMerge(this.ctx, mergeId);
  }

  /** One merge suggestion by id, in whatever status, or undefined. */
  findSuggestion(suggestionId: string): Promise<MergeSuggestion | undefined> {
    return people.findSuggestion(this.ctx, suggestionId);
  }

  suggestions(filter: { status?: MergeSuggestion['status']; contactId?: string; limit?: number } = {}): Promise<MergeSuggestion[]> {
    return people.suggestions(this.ctx, filter);
  }

  /** Accepts a merge suggestion: merges the two contacts, logged as the suggestion's rule. */
  acceptSuggestion(suggestionId: string, options: { actor?: string } = {}): Promise<MergeRecord> {
    return people.acceptSuggestion(this.ctx, suggestionId, options);
  }

  dismissSuggestion(suggestionId: string): Promise<MergeSuggestion> {
    return people.dismissSuggestion(this.ctx, suggestionId);
  }

  /** Sets (merges in) attributes of a person (a VIP flag, a tier, a plan); null removes one. */
  setContactAttributes(contactId: string, attributes: Record<string, unknown>): Promise<ContactView> {
    return people.setContactAttributes(this.ctx, contactId, attributes);
  }

  // Timeline -----------------------------------------------------------------------------------

  /** The person's events across every channel and every contact merged into them, one page at a time. */
  timeline(contactId: string, filter: TimelineFilter = {}): Promise<TimelinePage> {
    return history.timeline(this.ctx, contactId, filter);
  }

  conversations(contactId: string): Promise<Conversation[]> {
    return history.conversations(this.ctx, contactId);
  }

  /** One conversation by id, with the person (root contact) it belongs to; NOT_FOUND when it is not in this workspace. */
  getConversation(conversationId: string): Promise<{ conversation: Conversation; contactId: string }> {
    return history.getConversation(this.ctx, conversationId);
  }

  /** One timeline event by id (any kind), or undefined. */
  getEvent(eventId: string): Promise<TimelineEvent | undefined> {
    return history.getEvent(this.ctx, eventId);
  }

  /**
   * Continuity metrics over a period (default: the 7 days before now, by day): first human response,
   * resolution and handle times, messages per resolution, repeat rate, channel switches, CSAT, AI vs human
   * handling; in total, per time bucket, per channel and per agent. Definitions: the README, Continuity metrics.
   */
  metrics(query: MetricsQueryInput = {}): Promise<MetricsReport> {
    return metrics(this.ctx, query);
  }

  /** The history as text for a person or an LLM prompt, within a token budget. */
  transcript(contactId: string, options: TranscriptOptions = {}): Promise<Transcript> {
    return history.transcript(this.ctx, contactId, options);
  }

  /** The person's newest inbound messages and calls across every channel, newest first. */
  recentInbound(contactId: string, limit = 200): Promise<TimelineEvent[]> {
    return history.recentInbound(this.ctx, contactId, limit);
  }

  // Privacy ------------------------------------------------------------------------------------

  /** Everything we hold about a person, as JSON (a data subject access request). */
  exportContact(contactId: string): Promise<ContactExport> {
    return history.exportContact(this.ctx, contactId);
  }

  /**
   * Erases a person (right to be forgotten): the contact, everyone merged into it, their identities,
   * conversations, events, merge log entries and suggestions, and their values where another contact
   * merely claimed them. A late redelivery is recognised and does not bring the person back.
   */
  eraseContact(contactId: string): Promise<EraseReport> {
    return history.eraseContact(this.ctx, contactId);
  }

  // Routing ------------------------------------------------------------------------------------

  /** The agent roster: humans and AI agents with skills, languages, channels and capacity. */
  roster(): OmnithreadRoster {
    return routing.roster(this.ctx);
  }

  /** Assigns a conversation to an agent of the roster (or unassigns it with null). */
  assignConversation(conversationId: string, agentId: string | null): Promise<AssignedConversation> {
    return routing.assignConversation(this.ctx, conversationId, agentId);
  }

  /** What routing reads about a person, on one snapshot: contact, conversations with assignments, recent messages. */
  routingContext(contactId: string, options: { since?: number; limit?: number } = {}): Promise<RoutingContext> {
    return routing.routingContext(this.ctx, contactId, options);
  }

  // Desk ---------------------------------------------------------------------------------------

  /** What the desk keeps in the store: agents' access, session and link tokens, sign-in attempts, inbox lists, changes. */
  deskData(): DeskData {
    return deskData(this.ctx);
  }

  /** Routes a person's conversation atomically under the workspace's routing lock (see facade/routing.ts). */
  routeConversation<T>(input: routing.RouteRequest<T>): Promise<RouteCommitResult<T>> {
    return routing.routeConversation(this.ctx, input);
  }
}

export function createOmnithread(options: OmnithreadOptions): Omnithread {
  return new Omnithread(options);
}
