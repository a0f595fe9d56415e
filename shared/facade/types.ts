/** What the facade's operations return: the public shapes, shared by its modules and re-exported by ../omnithread.ts. */
import type { Contact, ContactView, Conversation, Message, TimelineEvent } from '../model';
import type { MergeRecord, MergeSuggestion } from '../identity/contacts';
import type { Resolution } from '../identity/resolve';
import type { PurgeOutcome } from '../store/driver';
import type { Agent, AgentFilter, AgentInput, AgentLoad, AgentStatus, Load } from '../routing/roster';

export type { OutboundOutcome, Reservation, SendLease, SendState } from './sending';

/**
 * What recording a delivery did: `recorded` a new message (what a flow runs for), `duplicate` a redelivery
 * (nothing written), `edited` an earlier message updated in place, `outbound` one of our own messages seen
 * on the channel (an agent's answer from the support mailbox) recorded on the customer's timeline.
 */
export type IngestEffect = 'recorded' | 'duplicate' | 'edited' | 'outbound';

export interface IngestResult {
  effect: IngestEffect;
  /** True when this provider message was recorded before: nothing new was written. */
  duplicate: boolean;
  /** The message as validated (defaults filled in), what a flow works with next. */
  message: Message;
  event: TimelineEvent | null;
  contact: ContactView;
  conversation: Conversation;
  /** How the sender was recognised (a duplicate only says it was recorded before). */
  identity: Pick<Resolution, 'created' | 'explanation' | 'steps'> & Partial<Resolution>;
  /** Set when this message continues the conversation on another channel. */
  channelSwitch: { from: string; to: string } | null;
}

export interface RecordResult {
  duplicate: boolean;
  event: TimelineEvent;
}

export interface ContactExport {
  exportedAt: string;
  workspace: string;
  contact: ContactView;
  /** Every contact record merged into this person, each as stored. */
  records: Contact[];
  conversations: Conversation[];
  events: TimelineEvent[];
  merges: MergeRecord[];
  suggestions: MergeSuggestion[];
}

export interface EraseReport {
  contactId: string;
  erasedContactIds: string[];
  deleted: { contacts: number; handles: number; claimsByOthers: number; events: number; conversations: number; merges: number; suggestions: number };
  /**
   * Values of the erased person that other contacts hold with channel or verified trust (a shared family
   * phone, say): they identify those people too, so they are kept, and counted here.
   */
  sharedHandlesKept: number;
  /** Rows of other people changed because they held the erased person's values (events, contacts...), by table. */
  scrubbed: Record<string, number>;
  /** Whether the deleted bytes also left the store's files, and how (see the store's purgeDeleted). */
  purge: PurgeOutcome;
}

/** The agent roster of a workspace (see roster()). */
export interface OmnithreadRoster {
  /** Adds an agent or replaces every field of an existing one (created time kept). */
  upsert(input: AgentInput): Promise<Agent>;
  get(agentId: string): Promise<Agent | undefined>;
  list(filter?: AgentFilter): Promise<Agent[]>;
  /** NOT_FOUND for an unknown agent. */
  setStatus(agentId: string, status: AgentStatus): Promise<Agent>;
  /** False when there was no such agent. */
  remove(agentId: string): Promise<boolean>;
  /** An array of agents or `{ agents: [...] }`: all validated first, then all upserted in one transaction. */
  import(input: unknown): Promise<Agent[]>;
  /** Current load per agent from its open assigned conversations (all agents, or those named). */
  loads(agentIds?: readonly string[]): Promise<AgentLoad[]>;
}

/** A conversation with who it is assigned to. */
export type AssignedConversation = Conversation & { assignedAgentId: string | null; assignedAt: string | null };

/** What a route decision reads about a person before it decides (see routingContext()). */
export interface RoutingContext {
  contact: ContactView;
  /** Every conversation of the person with its assignment, latest activity first. */
  conversations: AssignedConversation[];
  /** Messages and calls (both directions) since `since`, chronological. */
  messages: TimelineEvent[];
}

/** The roster as a route decision sees it inside its transaction (see routeConversation()). */
export interface RoutingState {
  agents: Agent[];
  /** Per agent id: its load from the open conversations assigned to it, NOT counting the one being routed. */
  loads: Map<string, Load>;
  /** The conversation being routed, as it is now (null when the person has no open conversation). */
  conversation: AssignedConversation | null;
}

/** What a route decision commits: an assignment (or none) and the event that records why. */
export interface RouteCommit<T> {
  agentId: string | null;
  event: { kind: string; text: string; channel?: string | null; data: Record<string, unknown> };
  result: T;
}

export interface RouteCommitResult<T> {
  /** True when this idempotency key was routed before: nothing was written, `result` is null. */
  duplicate: boolean;
  result: T | null;
  event: TimelineEvent;
  conversation: AssignedConversation | null;
}
