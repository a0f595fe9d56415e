/**
 * The facade every adapter calls: one object per workspace over one open store. Each method is one
 * transaction, so what it returns is what was committed.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { OmnithreadError, notFound } from './errors';
import {
  AppendEventInput,
  AppendEventInputSchema,
  Contact,
  ContactView,
  Conversation,
  HandleInput,
  HandleInputSchema,
  Identity,
  Message,
  MessageInput,
  MessageInputSchema,
  OutboundMessageInput,
  OutboundMessageInputSchema,
  StatusUpdateInput,
  StatusUpdateInputSchema,
  TimelineEvent,
  handleKey,
  parseInput,
  toMs,
  trustRank,
} from './model';
import {
  HandleRow,
  MergeRecord,
  MergeSuggestion,
  activeMergeOf,
  contactFromRow,
  familyHandles,
  familyRows,
  getContactRow,
  getMerge,
  getSuggestion,
  handleOwners,
  identityFromRow,
  listSuggestions,
  lockRoot,
  mergeRoots,
  mergesOfFamily,
  setSuggestionStatus,
  survivorFirst,
  undoMerge,
} from './identity/contacts';
import { normalizeHandles } from './identity/normalize';
import { Resolution, resolveIdentity } from './identity/resolve';
import { IdentityRules, IdentityRulesInput, compileRules } from './identity/rules';
import { Store } from './store';
import { FAMILY_IDS, SqlExecutor, SqlTransaction, inList } from './store/driver';
import {
  ConversationRow,
  TimelineFilter,
  TimelineFilterSchema,
  TimelinePage,
  closeConversation,
  completeOutboundEvent,
  conversationFromRow,
  eventByProviderId,
  eventFromRow,
  recentInbound,
  createConversation,
  familyConversations,
  getConversationRow,
  getEvent,
  insertEvent,
  openConversation,
  queryTimeline,
  threadContact,
  touchConversation,
} from './timeline/events';
import { Transcript, TranscriptOptions, buildTranscript } from './timeline/transcript';
import {
  Agent,
  AgentFilter,
  AgentFilterSchema,
  AgentInput,
  AgentLoad,
  AgentStatus,
  AgentStatusSchema,
  AgentIdSchema,
  Load,
  agentLoads,
  loadOf,
  getAgent,
  listAgents,
  parseAgent,
  parseRosterImport,
  removeAgent,
  setAgentStatus,
  upsertAgent,
} from './routing/roster';

const DAY = 24 * 60 * 60 * 1000;

export const OmnithreadOptionsSchema = z
  .object({
    /** All data is scoped by workspace: one store can serve several brands or teams. */
    workspace: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1-64 letters, digits, ".", "_" or "-"').default('default'),
    /** A conversation with no message for this long ends; the next message opens a new one. Default 7 days. */
    idleTimeoutMs: z.number().int().min(60_000).default(7 * DAY),
    /** Who automatic actions are logged as in the merge log. */
    actor: z.string().min(1).max(256).default('omnithread'),
  })
  .strict();

export interface OmnithreadOptions extends z.input<typeof OmnithreadOptionsSchema> {
  store: Store;
  rules?: IdentityRulesInput | IdentityRules;
  /** Milliseconds since the epoch; tests pass their own clock. */
  clock?: () => number;
}

export interface IngestResult {
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
}

/**
 * One identity per value: when several records of a merged person hold the same handle, the view shows
 * it once, with the best trust and the whole span it was seen over (the export keeps every record).
 */
function foldIdentities(rows: readonly HandleRow[]): Identity[] {
  const byKey = new Map<string, HandleRow>();
  for (const row of rows) {
    const key = handleKey(row);
    const had = byKey.get(key);
    if (!had) {
      byKey.set(key, row);
      continue;
    }
    const best = trustRank(row.trust) > trustRank(had.trust) ? row : had;
    byKey.set(key, {
      ...best,
      first_seen_at: Math.min(had.first_seen_at, row.first_seen_at),
      last_seen_at: Math.max(had.last_seen_at, row.last_seen_at),
    });
  }
  return [...byKey.values()].map(identityFromRow);
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

const assignedFromRow = (workspace: string, row: ConversationRow): AssignedConversation => {
  const at = row.assigned_at === null || row.assigned_at === undefined ? null : new Date(Number(row.assigned_at)).toISOString();
  return { ...conversationFromRow(workspace, row), assignedAgentId: (row.assigned_agent_id as string | null) ?? null, assignedAt: at };
};

const digest = (...parts: string[]): string => createHash('sha256').update(parts.join('\n')).digest('hex');

export class Omnithread {
  readonly workspace: string;
  readonly rules: IdentityRules;
  private readonly store: Store;
  private readonly idleTimeoutMs: number;
  private readonly actor: string;
  private readonly clock: () => number;

  constructor(options: OmnithreadOptions) {
    const { store, rules, clock, ...rest } = options;
    const parsed = parseInput(OmnithreadOptionsSchema, rest, 'Omnithread options');
    this.store = store;
    this.workspace = parsed.workspace;
    this.idleTimeoutMs = parsed.idleTimeoutMs;
    this.actor = parsed.actor;
    this.rules = compileRules(rules);
    this.clock = clock ?? Date.now;
  }

  private get driver() {
    return this.store.driver;
  }

  /** The facade's clock (epoch ms): what it stamps writes with; routing decides on it too. */
  now(): number {
    return this.clock();
  }

  /**
   * Every write takes the workspace lock: shared for everyday work, exclusive for merges, unmerges and
   * erasure, which rewrite who belongs to whom. Then the keys the work is about.
   */
  private async lockFor(tx: SqlTransaction, mode: 'shared' | 'exclusive', keys: readonly string[] = []): Promise<void> {
    await tx.lock([`ws:${this.workspace}`], mode);
    if (keys.length) await tx.lock(keys.map((k) => `${this.workspace}:${k}`));
  }

  private async rootOf(db: SqlExecutor, contactId: string): Promise<string> {
    const row = await getContactRow(db, this.workspace, contactId);
    if (!row) throw notFound('Contact', contactId);
    return row.root_id;
  }

  private async contactView(db: SqlExecutor, rootId: string): Promise<ContactView> {
    const rows = await familyRows(db, this.workspace, rootId);
    if (!rows.length) throw notFound('Contact', rootId);
    const [root, ...merged] = rows;
    const handles = await familyHandles(db, this.workspace, rootId);
    return {
      ...contactFromRow(this.workspace, root),
      name: root.name ?? merged.find((m) => m.name)?.name ?? null,
      identities: foldIdentities(handles),
      mergedContactIds: merged.map((m) => m.id),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Messages
  // -------------------------------------------------------------------------------------------

  /**
   * Records an inbound message: resolves the sender, appends the event and opens or continues the
   * person's conversation, in one transaction. A redelivery of the same provider message changes nothing
   * and says so.
   */
  async ingest(input: MessageInput): Promise<IngestResult> {
    const message = parseInput(MessageInputSchema, input, 'message');
    const { handles, skipped } = normalizeHandles(message.from.handles, this.rules);
    const now = this.clock();
    const occurredAt = toMs(message.sentAt ?? message.receivedAt, now);
    const dedupeKey = digest('in', message.channel, message.channelAccount, message.providerMessageId);

    return this.driver.transaction(async (tx) => {
      await this.lockFor(tx, 'shared', [`delivery:${dedupeKey}`, ...handles.map((h) => `handle:${handleKey(h)}`)]);
      const seen = await this.delivery(tx, dedupeKey);
      if (seen) return { ...(await this.duplicateResult(tx, seen.event_id)), message };

      const threadContactId = message.threadKey ? await threadContact(tx, this.workspace, message.channel, message.channelAccount, message.threadKey) : undefined;
      const identity = await resolveIdentity(
        tx,
        { workspace: this.workspace, rules: this.rules, now, actor: this.actor },
        { handles, skipped, name: message.from.name, threadContactId },
      );
      const { conversation, channelSwitch } = await this.conversationFor(tx, identity.contactId, message.channel, occurredAt, now);
      const event = await insertEvent(
        tx,
        this.workspace,
        {
          contactId: identity.contactId,
          conversationId: conversation.id,
          kind: message.kind,
          channel: message.channel,
          channelAccount: message.channelAccount,
          direction: 'inbound',
          text: message.text,
          occurredAt,
          providerMessageId: message.providerMessageId,
          threadKey: message.threadKey ?? null,
          data: {
            ...(message.from.name ? { from: { name: message.from.name } } : {}),
            attachments: message.attachments,
            ...(message.replyTo ? { replyTo: message.replyTo } : {}),
            ...(message.metadata ? { metadata: message.metadata } : {}),
            ...(message.raw !== undefined ? { raw: message.raw } : {}),
            // Not the explanation: it names other people's handles and ids, which an erasure must be able
            // to remove from everywhere.
          },
        },
        now,
      );
      await touchConversation(tx, this.workspace, conversation, message.channel, occurredAt);
      await this.remember(tx, dedupeKey, event.id, now);
      const row = (await getConversationRow(tx, this.workspace, conversation.id))!;
      return {
        duplicate: false,
        message,
        event,
        contact: await this.contactView(tx, identity.contactId),
        conversation: conversationFromRow(this.workspace, row),
        identity,
        channelSwitch,
      };
    });
  }

  private async duplicateResult(tx: SqlExecutor, eventId: string | null): Promise<Omit<IngestResult, 'message'>> {
    const event = eventId ? await getEvent(tx, this.workspace, eventId) : undefined;
    if (!event) {
      // The person was erased after the first delivery: the redelivery is still a redelivery.
      throw new OmnithreadError('CONFLICT', 'This message was recorded before and its contact has since been erased; it is not recorded again');
    }
    const rootId = await this.rootOf(tx, event.contactId);
    const row = event.conversationId ? await getConversationRow(tx, this.workspace, event.conversationId) : undefined;
    return {
      duplicate: true,
      event,
      contact: await this.contactView(tx, rootId),
      conversation: conversationFromRow(this.workspace, row!),
      identity: { created: false, explanation: `This message was recorded before (event ${event.id}); a redelivery changes nothing.`, steps: [] },
      channelSwitch: null,
    };
  }

  /**
   * The conversation a message at `at` belongs to: the person's open one, unless it has been idle longer
   * than the idle timeout (then it ends and a new one opens). A different channel is a channel switch,
   * recorded on the timeline so a reader sees the customer moved.
   */
  private async conversationFor(
    tx: SqlTransaction,
    rootId: string,
    channel: string,
    at: number,
    now: number,
  ): Promise<{ conversation: ConversationRow; channelSwitch: { from: string; to: string } | null }> {
    let conversation = await openConversation(tx, this.workspace, rootId);
    if (conversation && at - conversation.last_activity_at > this.idleTimeoutMs) {
      await closeConversation(tx, this.workspace, conversation.id, 'idle', conversation.last_activity_at + this.idleTimeoutMs);
      conversation = undefined;
    }
    if (!conversation) return { conversation: await createConversation(tx, this.workspace, rootId, at, now), channelSwitch: null };
    if (!conversation.last_channel || conversation.last_channel === channel) return { conversation, channelSwitch: null };
    const channelSwitch = { from: conversation.last_channel, to: channel };
    await insertEvent(tx, this.workspace, { contactId: rootId, conversationId: conversation.id, kind: 'channel_switch', channel, occurredAt: at, data: channelSwitch }, now);
    return { conversation, channelSwitch };
  }

  /** Records a message we sent (by a human, an AI or a flow). Idempotent on providerMessageId. */
  async recordOutbound(contactId: string, input: OutboundMessageInput): Promise<RecordResult> {
    const message = parseInput(OutboundMessageInputSchema, input, 'outbound message');
    const now = this.clock();
    const at = toMs(message.sentAt, now);
    const dedupeKey = message.providerMessageId ? digest('out', message.channel, message.channelAccount, message.providerMessageId) : undefined;
    return this.recordOnce(contactId, dedupeKey, now, (tx, rootId) => this.writeOutbound(tx, rootId, message, at, now, {}));
  }

  /** Writes an outbound message in its conversation (the one named, or the person's current one). */
  private async writeOutbound(
    tx: SqlTransaction,
    rootId: string,
    message: z.output<typeof OutboundMessageInputSchema>,
    at: number,
    now: number,
    data: Record<string, unknown>,
  ): Promise<TimelineEvent> {
    const { conversation } = message.conversationId
      ? { conversation: await this.conversationOf(tx, rootId, message.conversationId) }
      : await this.conversationFor(tx, rootId, message.channel, at, now);
    const event = await insertEvent(
      tx,
      this.workspace,
      {
        contactId: rootId,
        conversationId: conversation.id,
        kind: 'message',
        channel: message.channel,
        channelAccount: message.channelAccount,
        direction: 'outbound',
        text: message.text,
        occurredAt: at,
        providerMessageId: message.providerMessageId ?? null,
        threadKey: message.threadKey ?? null,
        data: {
          attachments: message.attachments,
          ...data,
          ...(message.author ? { author: message.author } : {}),
          ...(message.metadata ? { metadata: message.metadata } : {}),
        },
      },
      now,
    );
    await touchConversation(tx, this.workspace, conversation, message.channel, at);
    return event;
  }

  /**
   * Records what happened to an earlier message or call (delivered, read, failed; a call answered or
   * completed) on the same person's timeline, once per status. A status about something Omnithread never
   * recorded (a message sent from elsewhere) is ignored: `recorded` is false.
   */
  async recordStatus(input: StatusUpdateInput): Promise<{ recorded: boolean; duplicate: boolean; event: TimelineEvent | null; of: TimelineEvent | null }> {
    const update = parseInput(StatusUpdateInputSchema, input, 'status update');
    const now = this.clock();
    const dedupeKey = digest('status', update.channel, update.channelAccount, update.providerMessageId, update.status);
    return this.driver.transaction(async (tx) => {
      await this.lockFor(tx, 'shared', [`delivery:${dedupeKey}`]);
      const seen = await this.delivery(tx, dedupeKey);
      if (seen) {
        const event = seen.event_id ? ((await getEvent(tx, this.workspace, seen.event_id)) ?? null) : null;
        return { recorded: false, duplicate: true, event, of: null };
      }
      const of = await eventByProviderId(tx, this.workspace, update.channel, update.providerMessageId);
      if (!of) return { recorded: false, duplicate: false, event: null, of: null };
      await lockRoot(tx, this.workspace, of.contactId);
      const event = await insertEvent(
        tx,
        this.workspace,
        {
          contactId: of.contactId,
          conversationId: of.conversationId,
          kind: 'status',
          channel: update.channel,
          channelAccount: update.channelAccount,
          text: '',
          occurredAt: toMs(update.at, now),
          data: { status: update.status, of: of.id, ...(Object.keys(update.details).length ? { details: update.details } : {}) },
        },
        now,
      );
      await this.remember(tx, dedupeKey, event.id, now);
      return { recorded: true, duplicate: false, event, of };
    });
  }

  /**
   * Durable cursors for pollers (an IMAP mailbox's UIDVALIDITY and last UID, say), kept in the store so a
   * restart, or another worker on the same PostgreSQL store, continues where the last poll stopped.
   * Values are JSON.
   */
  cursors(): { load<T>(key: string): Promise<T | undefined>; save<T>(key: string, value: T): Promise<void> } {
    return {
      load: async <T>(key: string) => {
        const row = await this.driver.read((db) => db.get<{ value: string }>('SELECT value FROM cursors WHERE workspace = ? AND key = ?', [this.workspace, key]));
        return row ? (JSON.parse(row.value) as T) : undefined;
      },
      save: async <T>(key: string, value: T) => {
        const now = this.clock();
        await this.driver.transaction((tx) =>
          tx.run(
            `INSERT INTO cursors (workspace, key, value, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (workspace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
            [this.workspace, key, JSON.stringify(value), now],
          ),
        );
      },
    };
  }

  /**
   * The agent roster: humans and AI agents with skills, languages, channels and capacity. Each write is
   * one transaction; an import is validated whole and written whole, or not at all.
   */
  roster(): OmnithreadRoster {
    const agentId = (id: string) => parseInput(AgentIdSchema, id, 'agent id');
    return {
      upsert: async (input) => {
        const agent = parseAgent(input);
        const now = this.clock();
        return this.driver.transaction(async (tx) => {
          await this.lockFor(tx, 'shared', [`agent:${agent.id}`]);
          return upsertAgent(tx, this.workspace, agent, now);
        });
      },
      get: async (id) => this.driver.read((db) => getAgent(db, this.workspace, agentId(id))),
      list: async (filter = {}) => {
        const parsed = parseInput(AgentFilterSchema, filter, 'agent filter');
        return this.driver.read((db) => listAgents(db, this.workspace, parsed));
      },
      setStatus: async (id, status) => {
        const parsedId = agentId(id);
        const parsedStatus = parseInput(AgentStatusSchema, status, 'agent status');
        const now = this.clock();
        return this.driver.transaction(async (tx) => {
          await this.lockFor(tx, 'shared', [`agent:${parsedId}`]);
          return setAgentStatus(tx, this.workspace, parsedId, parsedStatus, now);
        });
      },
      remove: async (id) => {
        const parsedId = agentId(id);
        return this.driver.transaction(async (tx) => {
          await this.lockFor(tx, 'shared', [`agent:${parsedId}`]);
          return removeAgent(tx, this.workspace, parsedId);
        });
      },
      import: async (input) => {
        const agents = parseRosterImport(input);
        const now = this.clock();
        return this.driver.transaction(async (tx) => {
          await this.lockFor(tx, 'shared', agents.map((a) => `agent:${a.id}`));
          const out: Agent[] = [];
          for (const agent of agents) out.push(await upsertAgent(tx, this.workspace, agent, now));
          return out;
        });
      },
      loads: async (agentIds) => {
        const ids = agentIds === undefined ? undefined : agentIds.map(agentId);
        return this.driver.read((db) => agentLoads(db, this.workspace, ids));
      },
    };
  }

  /**
   * Assigns a conversation to an agent of the roster (or unassigns it with null). It then counts toward
   * the agent's load while it is open. NOT_FOUND for an unknown conversation or agent; CONFLICT when
   * assigning a conversation that is no longer open. Capacity and status are the router's business.
   */
  async assignConversation(conversationId: string, agentIdInput: string | null): Promise<AssignedConversation> {
    const agentId = agentIdInput === null ? null : parseInput(AgentIdSchema, agentIdInput, 'agent id');
    const now = this.clock();
    return this.driver.transaction(async (tx) => {
      // The routing lock too: a manual assignment and a route decision never both see the same free capacity.
      await this.lockFor(tx, 'shared', agentId ? ['routing', `agent:${agentId}`] : []);
      const row = await getConversationRow(tx, this.workspace, conversationId);
      if (!row) throw notFound('Conversation', conversationId);
      if (agentId !== null) {
        if (!(await getAgent(tx, this.workspace, agentId))) throw notFound('Agent', agentId);
        if (row.status !== 'open') throw new OmnithreadError('CONFLICT', `Conversation ${conversationId} is ${row.status}; only an open conversation can be assigned`);
      }
      await tx.run('UPDATE conversations SET assigned_agent_id = ?, assigned_at = ? WHERE workspace = ? AND id = ?', [
        agentId,
        agentId === null ? null : now,
        this.workspace,
        conversationId,
      ]);
      const updated = (await getConversationRow(tx, this.workspace, conversationId))!;
      const assignedAt = updated.assigned_at === null || updated.assigned_at === undefined ? null : new Date(Number(updated.assigned_at)).toISOString();
      return { ...conversationFromRow(this.workspace, updated), assignedAgentId: (updated.assigned_agent_id as string | null) ?? null, assignedAt };
    });
  }

  /**
   * What routing reads about a person, on one snapshot: the contact (with attributes), every conversation
   * with its assignment, and the messages and calls since `since` (epoch ms), oldest first.
   */
  async routingContext(contactId: string, options: { since?: number; limit?: number } = {}): Promise<RoutingContext> {
    const since = options.since ?? 0;
    const limit = Math.min(Math.max(1, options.limit ?? 5000), 20_000);
    return this.driver.read(async (db) => {
      const rootId = await this.rootOf(db, contactId);
      const contact = await this.contactView(db, rootId);
      const rows = await db.all<ConversationRow>(
        `SELECT * FROM conversations WHERE workspace = ? AND contact_id IN (${FAMILY_IDS}) ORDER BY last_activity_at DESC, id DESC`,
        [this.workspace, this.workspace, rootId],
      );
      const events = await db.all<Parameters<typeof eventFromRow>[1]>(
        `SELECT * FROM (SELECT * FROM events WHERE workspace = ? AND contact_id IN (${FAMILY_IDS}) AND kind IN ('message', 'call') AND occurred_at >= ?
           ORDER BY occurred_at DESC, seq DESC LIMIT ?) recent ORDER BY occurred_at, seq`,
        [this.workspace, this.workspace, rootId, since, limit],
      );
      return {
        contact,
        conversations: rows.map((row) => assignedFromRow(this.workspace, row)),
        messages: events.map((row) => eventFromRow(this.workspace, row)),
      };
    });
  }

  /**
   * Routes a person's conversation atomically. In one transaction, under the workspace's routing lock
   * (a PostgreSQL advisory lock; SQLite's write transactions are serial anyway), it reads the roster and
   * every agent's load fresh, lets `decide` choose, assigns the conversation to the chosen agent only
   * if that agent is still available with room for the channel, and records the decision event. Two
   * decisions at once, in one process or several, therefore never both fill the same last slot.
   * With an idempotency key, a second call returns the first decision's event and writes nothing.
   */
  async routeConversation<T>(input: {
    contactId: string;
    conversationId?: string | null;
    channel: string;
    idempotencyKey?: string;
    decide: (state: RoutingState) => RouteCommit<T>;
  }): Promise<RouteCommitResult<T>> {
    const now = this.clock();
    const dedupeKey = input.idempotencyKey ? digest('route', input.idempotencyKey) : undefined;
    return this.driver.transaction(async (tx) => {
      await this.lockFor(tx, 'shared', ['routing', ...(dedupeKey ? [`delivery:${dedupeKey}`] : [])]);
      if (dedupeKey) {
        const seen = await this.delivery(tx, dedupeKey);
        if (seen) {
          const event = seen.event_id ? await getEvent(tx, this.workspace, seen.event_id) : undefined;
          if (!event) throw new OmnithreadError('CONFLICT', 'This was routed before and its contact has since been erased; it is not routed again');
          const row = event.conversationId ? await getConversationRow(tx, this.workspace, event.conversationId) : undefined;
          return { duplicate: true, result: null, event, conversation: row ? assignedFromRow(this.workspace, row) : null };
        }
      }
      const rootId = await lockRoot(tx, this.workspace, input.contactId);
      const row = input.conversationId ? await this.conversationOf(tx, rootId, input.conversationId) : await openConversation(tx, this.workspace, rootId);
      const conversation = row ? assignedFromRow(this.workspace, row) : null;
      const agents = await listAgents(tx, this.workspace);
      const open = await tx.all<{ id: string; assigned_agent_id: string; last_channel: string | null }>(
        `SELECT id, assigned_agent_id, last_channel FROM conversations WHERE workspace = ? AND status = 'open' AND assigned_agent_id IS NOT NULL`,
        [this.workspace],
      );
      const byAgent = new Map<string, { channel: string | null }[]>();
      for (const o of open) {
        if (conversation && o.id === conversation.id) continue;
        const list = byAgent.get(o.assigned_agent_id) ?? [];
        list.push({ channel: o.last_channel });
        byAgent.set(o.assigned_agent_id, list);
      }
      const loads = new Map(agents.map((a) => [a.id, loadOf(a, byAgent.get(a.id) ?? [])] as const));
      const commit = input.decide({ agents, loads, conversation });

      let updated = conversation;
      if (commit.agentId !== null) {
        const agent = agents.find((a) => a.id === commit.agentId);
        if (!agent) throw notFound('Agent', commit.agentId);
        if (!conversation || conversation.status !== 'open') throw new OmnithreadError('CONFLICT', 'Only an open conversation can be assigned');
        if (agent.status !== 'available' || !loads.get(agent.id)!.canTake(input.channel)) {
          throw new OmnithreadError('CONFLICT', `Agent ${agent.id} is not available with room for ${input.channel}`);
        }
        await tx.run('UPDATE conversations SET assigned_agent_id = ?, assigned_at = ? WHERE workspace = ? AND id = ?', [agent.id, now, this.workspace, conversation.id]);
        updated = assignedFromRow(this.workspace, (await getConversationRow(tx, this.workspace, conversation.id))!);
      }
      const event = await insertEvent(
        tx,
        this.workspace,
        {
          contactId: rootId,
          conversationId: conversation?.id ?? null,
          kind: commit.event.kind,
          channel: commit.event.channel ?? input.channel,
          text: commit.event.text,
          occurredAt: now,
          data: commit.event.data,
        },
        now,
      );
      if (dedupeKey) await this.remember(tx, dedupeKey, event.id, now);
      return { duplicate: false, result: commit.result, event, conversation: updated };
    });
  }

  /** Sets (merges in) attributes of a person (a VIP flag, a tier, a plan); null removes one. */
  async setContactAttributes(contactId: string, attributes: Record<string, unknown>): Promise<ContactView> {
    const patch = parseInput(z.record(z.string().min(1).max(128), z.unknown()), attributes, 'contact attributes');
    const now = this.clock();
    return this.driver.transaction(async (tx) => {
      await this.lockFor(tx, 'shared');
      const rootId = await lockRoot(tx, this.workspace, contactId);
      const row = (await getContactRow(tx, this.workspace, rootId))!;
      const merged: Record<string, unknown> = { ...(JSON.parse(row.attributes) as Record<string, unknown>) };
      for (const [key, value] of Object.entries(patch)) {
        if (value === null) delete merged[key];
        else merged[key] = value;
      }
      await tx.run('UPDATE contacts SET attributes = ?, updated_at = ? WHERE workspace = ? AND id = ?', [JSON.stringify(merged), now, this.workspace, rootId]);
      return this.contactView(tx, rootId);
    });
  }

  /** The person's newest inbound messages and calls across every channel, newest first. */
  async recentInbound(contactId: string, limit = 200): Promise<TimelineEvent[]> {
    return this.driver.read(async (db) => recentInbound(db, this.workspace, await this.rootOf(db, contactId), limit));
  }

  /**
   * Reserves an outbound message before it is sent, once per key: the first call records it as
   * `pending` and returns `reserved: true`; a later call with the same key returns that event (pending,
   * sent or failed) so a re-run of a flow never sends twice. Complete it with completeOutbound.
   */
  async reserveOutbound(contactId: string, key: string, input: OutboundMessageInput): Promise<{ reserved: boolean; event: TimelineEvent }> {
    const message = parseInput(OutboundMessageInputSchema, input, 'outbound message');
    const now = this.clock();
    const dedupeKey = digest('send', key);
    const result = await this.recordOnce(contactId, dedupeKey, now, (tx, rootId) => this.writeOutbound(tx, rootId, message, now, now, { sendState: 'pending' }));
    return { reserved: !result.duplicate, event: result.event };
  }

  /** Records how a reserved outbound message went: sent (with the provider's id) or failed (with why). */
  async completeOutbound(
    eventId: string,
    outcome: { state: 'sent' | 'failed'; channel: string; channelAccount?: string; providerMessageId?: string; details?: Record<string, unknown> },
  ): Promise<TimelineEvent> {
    return this.driver.transaction(async (tx) => {
      await this.lockFor(tx, 'shared');
      const event = await getEvent(tx, this.workspace, eventId);
      if (!event || event.direction !== 'outbound') throw notFound('Outbound message', eventId);
      return completeOutboundEvent(tx, this.workspace, event, {
        channel: outcome.channel,
        channelAccount: outcome.channelAccount ?? event.channelAccount ?? '',
        providerMessageId: outcome.providerMessageId ?? null,
        data: { sendState: outcome.state, ...(outcome.details ? { send: outcome.details } : {}) },
      });
    });
  }

  /** Appends a note, an assignment or any event of your own (order_placed, csat ...) to a person's timeline. */
  async appendEvent(contactId: string, input: AppendEventInput): Promise<RecordResult> {
    const parsed = parseInput(AppendEventInputSchema, input, 'event');
    const now = this.clock();
    const dedupeKey = parsed.idempotencyKey ? digest('event', parsed.idempotencyKey) : undefined;
    return this.recordOnce(contactId, dedupeKey, now, async (tx, rootId) => {
      const conversationId = parsed.conversationId
        ? (await this.conversationOf(tx, rootId, parsed.conversationId)).id
        : ((await openConversation(tx, this.workspace, rootId))?.id ?? null);
      return insertEvent(
        tx,
        this.workspace,
        {
          contactId: rootId,
          conversationId,
          kind: parsed.kind,
          channel: parsed.channel ?? null,
          text: parsed.text,
          occurredAt: toMs(parsed.occurredAt, now),
          data: parsed.data,
        },
        now,
      );
    });
  }

  /**
   * Writes one event for a person in a transaction, once per idempotency key: a second call with the
   * same key returns the first event and writes nothing.
   */
  private recordOnce(
    contactId: string,
    dedupeKey: string | undefined,
    now: number,
    write: (tx: SqlTransaction, rootId: string) => Promise<TimelineEvent>,
  ): Promise<RecordResult> {
    return this.driver.transaction(async (tx) => {
      await this.lockFor(tx, 'shared', dedupeKey ? [`delivery:${dedupeKey}`] : []);
      const seen = dedupeKey ? await this.delivery(tx, dedupeKey) : undefined;
      if (seen) {
        const event = seen.event_id ? await getEvent(tx, this.workspace, seen.event_id) : undefined;
        if (!event) throw new OmnithreadError('CONFLICT', 'This was recorded before and its contact has since been erased; it is not recorded again');
        return { duplicate: true, event };
      }
      const event = await write(tx, await lockRoot(tx, this.workspace, contactId));
      if (dedupeKey) await this.remember(tx, dedupeKey, event.id, now);
      return { duplicate: false, event };
    });
  }

  private delivery(tx: SqlExecutor, dedupeKey: string): Promise<{ event_id: string | null } | undefined> {
    return tx.get<{ event_id: string | null }>('SELECT event_id FROM deliveries WHERE workspace = ? AND dedupe_key = ?', [this.workspace, dedupeKey]);
  }

  private async remember(tx: SqlExecutor, dedupeKey: string, eventId: string, now: number): Promise<void> {
    await tx.run('INSERT INTO deliveries (workspace, dedupe_key, event_id, recorded_at) VALUES (?, ?, ?, ?)', [this.workspace, dedupeKey, eventId, now]);
  }

  private async conversationOf(db: SqlExecutor, rootId: string, conversationId: string): Promise<ConversationRow> {
    const row = await getConversationRow(db, this.workspace, conversationId);
    if (!row || row.root_id !== rootId) throw notFound('Conversation of this contact', conversationId);
    return row;
  }

  /** Marks a conversation resolved: the episode ends and the next message opens a new one. */
  async resolveConversation(conversationId: string): Promise<Conversation> {
    const now = this.clock();
    return this.driver.transaction(async (tx) => {
      await this.lockFor(tx, 'shared');
      const row = await getConversationRow(tx, this.workspace, conversationId);
      if (!row) throw notFound('Conversation', conversationId);
      await closeConversation(tx, this.workspace, conversationId, 'resolved', now);
      return conversationFromRow(this.workspace, (await getConversationRow(tx, this.workspace, conversationId))!);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Identity
  // -------------------------------------------------------------------------------------------

  /**
   * Resolves handles to a contact without a message: finds, links or creates the person and explains how.
   * With `dryRun`, says what would happen and writes nothing.
   */
  async resolve(inputs: HandleInput[], options: { name?: string; dryRun?: boolean } = {}): Promise<Resolution & { contact: ContactView }> {
    const list = parseInput(z.array(HandleInputSchema).min(1, 'needs at least one handle').max(32), inputs, 'handles');
    const { handles, skipped } = normalizeHandles(list, this.rules);
    const now = this.clock();
    const rollback = Symbol('dry run');
    let outcome: (Resolution & { contact: ContactView }) | undefined;
    try {
      await this.driver.transaction(async (tx) => {
        await this.lockFor(tx, 'shared', handles.map((h) => `handle:${handleKey(h)}`));
        const resolution = await resolveIdentity(tx, { workspace: this.workspace, rules: this.rules, now, actor: this.actor }, { handles, skipped, name: options.name });
        outcome = { ...resolution, contact: await this.contactView(tx, resolution.contactId) };
        if (options.dryRun) throw rollback;
      });
    } catch (error) {
      if (error !== rollback) throw error;
    }
    return outcome!;
  }

  /** The person holding a handle (the one who used it last, if several do), or undefined. */
  async findContact(input: HandleInput): Promise<ContactView | undefined> {
    const { handles } = normalizeHandles([parseInput(HandleInputSchema, input, 'handle')], this.rules);
    if (!handles.length) return undefined;
    return this.driver.read(async (db) => {
      const rows = (await handleOwners(db, this.workspace, handles)).get(handleKey(handles[0])) ?? [];
      const newest = [...rows].sort((a, b) => b.last_seen_at - a.last_seen_at)[0];
      return newest ? this.contactView(db, newest.root_id) : undefined;
    });
  }

  /** A contact with every identity; asked for a merged contact, returns the survivor it belongs to. */
  /** One conversation by id, with the person (root contact) it belongs to; NOT_FOUND when it is not in this workspace. */
  async getConversation(conversationId: string): Promise<{ conversation: Conversation; contactId: string }> {
    const row = await this.driver.read((db) => getConversationRow(db, this.workspace, conversationId));
    if (!row) throw notFound('Conversation', conversationId);
    return { conversation: conversationFromRow(this.workspace, row), contactId: row.root_id };
  }

  /** One timeline event by id (any kind), or undefined. */
  async getEvent(eventId: string): Promise<TimelineEvent | undefined> {
    return this.driver.read((db) => getEvent(db, this.workspace, eventId));
  }

  async getContact(contactId: string): Promise<ContactView> {
    return this.driver.read(async (db) => this.contactView(db, await this.rootOf(db, contactId)));
  }

  /** Merges two contacts by hand (an agent or admin knows they are one person). The older one survives. */
  async merge(contactId: string, otherContactId: string, options: { actor?: string; reason?: string } = {}): Promise<MergeRecord> {
    const now = this.clock();
    return this.driver.transaction(async (tx) => {
      await this.lockFor(tx, 'exclusive');
      const [a, b] = [await this.rootOf(tx, contactId), await this.rootOf(tx, otherContactId)];
      if (a === b) throw new OmnithreadError('CONFLICT', `${contactId} and ${otherContactId} are already the same contact (${a})`);
      const [survivor, merged] = await survivorFirst(tx, this.workspace, a, b);
      return mergeRoots(
        tx,
        this.workspace,
        survivor,
        merged,
        { rule: 'manual', evidence: options.reason ? { reason: options.reason } : {}, actor: options.actor ?? this.actor },
        now,
      );
    });
  }

  /**
   * Undoes a merge exactly: the merged contact gets back its identities, conversations and events.
   * Give the merge id, or the id of the contact that was merged away.
   */
  async unmerge(ref: { mergeId: string } | { contactId: string }, options: { actor?: string } = {}): Promise<MergeRecord> {
    const now = this.clock();
    return this.driver.transaction(async (tx) => {
      await this.lockFor(tx, 'exclusive');
      const merge = 'mergeId' in ref ? await getMerge(tx, this.workspace, ref.mergeId) : await activeMergeOf(tx, this.workspace, ref.contactId);
      if (!merge) throw notFound('mergeId' in ref ? 'Merge' : 'Active merge of contact', 'mergeId' in ref ? ref.mergeId : ref.contactId);
      if (merge.undoneAt) throw new OmnithreadError('CONFLICT', `Merge ${merge.id} was already undone at ${merge.undoneAt}`);
      const actor = options.actor ?? this.actor;
      await undoMerge(tx, this.workspace, merge, actor, now);
      return (await getMerge(tx, this.workspace, merge.id))!;
    });
  }

  /** The merge log of a person: every merge and unmerge involving them or anyone merged into them. */
  async mergeLog(contactId: string): Promise<MergeRecord[]> {
    return this.driver.read(async (db) => {
      const rows = await familyRows(db, this.workspace, await this.rootOf(db, contactId));
      return mergesOfFamily(db, this.workspace, rows.map((r) => r.id));
    });
  }

  async suggestions(filter: { status?: MergeSuggestion['status']; contactId?: string; limit?: number } = {}): Promise<MergeSuggestion[]> {
    return this.driver.read(async (db) => {
      const contactIds = filter.contactId ? (await familyRows(db, this.workspace, await this.rootOf(db, filter.contactId))).map((r) => r.id) : undefined;
      return listSuggestions(db, this.workspace, { status: filter.status ?? 'open', contactIds, limit: filter.limit ?? 100 });
    });
  }

  /** Accepts a merge suggestion: merges the two contacts, logged as the suggestion's rule. */
  async acceptSuggestion(suggestionId: string, options: { actor?: string } = {}): Promise<MergeRecord> {
    const now = this.clock();
    return this.driver.transaction(async (tx) => {
      await this.lockFor(tx, 'exclusive');
      const suggestion = await getSuggestion(tx, this.workspace, suggestionId);
      if (!suggestion) throw notFound('Merge suggestion', suggestionId);
      if (suggestion.status !== 'open') throw new OmnithreadError('CONFLICT', `Merge suggestion ${suggestionId} is already ${suggestion.status}`);
      const [a, b] = [await this.rootOf(tx, suggestion.contactIds[0]), await this.rootOf(tx, suggestion.contactIds[1])];
      if (a === b) throw new OmnithreadError('CONFLICT', `The contacts of suggestion ${suggestionId} are already one contact (${a})`);
      const [survivor, merged] = await survivorFirst(tx, this.workspace, a, b);
      await setSuggestionStatus(tx, this.workspace, suggestionId, 'accepted', now);
      return mergeRoots(
        tx,
        this.workspace,
        survivor,
        merged,
        { rule: 'suggestion', evidence: { suggestionId, reason: suggestion.reason, ...suggestion.evidence }, actor: options.actor ?? this.actor },
        now,
      );
    });
  }

  async dismissSuggestion(suggestionId: string): Promise<MergeSuggestion> {
    const now = this.clock();
    return this.driver.transaction(async (tx) => {
      await this.lockFor(tx, 'shared');
      const suggestion = await getSuggestion(tx, this.workspace, suggestionId);
      if (!suggestion) throw notFound('Merge suggestion', suggestionId);
      await setSuggestionStatus(tx, this.workspace, suggestionId, 'dismissed', now);
      return (await getSuggestion(tx, this.workspace, suggestionId))!;
    });
  }

  // -------------------------------------------------------------------------------------------
  // Timeline
  // -------------------------------------------------------------------------------------------

  /** The person's events across every channel and every contact merged into them, one page at a time. */
  async timeline(contactId: string, filter: TimelineFilter = {}): Promise<TimelinePage> {
    const parsed = parseInput(TimelineFilterSchema, filter, 'timeline filter');
    return this.driver.read(async (db) => queryTimeline(db, this.workspace, await this.rootOf(db, contactId), parsed));
  }

  async conversations(contactId: string): Promise<Conversation[]> {
    return this.driver.read(async (db) => familyConversations(db, this.workspace, await this.rootOf(db, contactId)));
  }

  /** The history as text for a person or an LLM prompt, within a token budget. */
  async transcript(contactId: string, options: TranscriptOptions = {}): Promise<Transcript> {
    return this.driver.read(async (db) => {
      const rootId = await this.rootOf(db, contactId);
      const contact = await this.contactView(db, rootId);
      const conversations = await familyConversations(db, this.workspace, rootId);
      const events = await this.allEvents(db, rootId);
      return buildTranscript(contact, conversations, events, options);
    });
  }

  private async allEvents(db: SqlExecutor, rootId: string): Promise<TimelineEvent[]> {
    const events: TimelineEvent[] = [];
    let cursor: string | undefined;
    do {
      const page = await queryTimeline(db, this.workspace, rootId, TimelineFilterSchema.parse({ limit: 1000, cursor }));
      events.push(...page.events);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return events;
  }

  // -------------------------------------------------------------------------------------------
  // Privacy
  // -------------------------------------------------------------------------------------------

  /** Everything we hold about a person, as JSON (a data subject access request). */
  async exportContact(contactId: string): Promise<ContactExport> {
    return this.driver.read(async (db) => {
      const rootId = await this.rootOf(db, contactId);
      const rows = await familyRows(db, this.workspace, rootId);
      const ids = rows.map((r) => r.id);
      return {
        exportedAt: new Date(this.clock()).toISOString(),
        workspace: this.workspace,
        contact: await this.contactView(db, rootId),
        records: rows.map((r) => contactFromRow(this.workspace, r)),
        conversations: await familyConversations(db, this.workspace, rootId),
        events: await this.allEvents(db, rootId),
        merges: await mergesOfFamily(db, this.workspace, ids),
        suggestions: await listSuggestions(db, this.workspace, { contactIds: ids, limit: 10_000 }),
      };
    });
  }

  /**
   * Erases a person (right to be forgotten): the contact, everyone merged into it, their identities,
   * conversations, events, merge log entries and suggestions, and their values where another contact
   * merely claimed them (an asserted handle: someone typed this person's email). Delivery records keep
   * only a hash of the provider message id, so a late redelivery is recognised and does not bring the
   * person back.
   */
  async eraseContact(contactId: string): Promise<EraseReport> {
    const report = await this.driver.transaction(async (tx) => {
      await this.lockFor(tx, 'exclusive');
      const rootId = await this.rootOf(tx, contactId);
      const ids = (await familyRows(tx, this.workspace, rootId)).map((r) => r.id);
      const list = inList(ids);
      const ws = this.workspace;
      await tx.run(
        `UPDATE deliveries SET event_id = NULL WHERE workspace = ? AND event_id IN (SELECT id FROM events WHERE workspace = ? AND contact_id IN (${list}))`,
        [ws, ws, ...ids],
      );
      // Their values held by other contacts: claims (asserted) go, values those people use themselves stay.
      const ownValues = await familyHandles(tx, ws, rootId);
      const holders = [...(await handleOwners(tx, ws, ownValues)).values()].flat().filter((h) => !ids.includes(h.contact_id));
      const claims = holders.filter((h) => h.trust === 'asserted');
      for (const claim of claims) {
        await tx.run('DELETE FROM handles WHERE workspace = ? AND kind = ? AND scope = ? AND value = ? AND contact_id = ?', [
          ws,
          claim.kind,
          claim.scope,
          claim.value,
          claim.contact_id,
        ]);
      }
      const deleted = {
        claimsByOthers: claims.length,
        events: await tx.run(`DELETE FROM events WHERE workspace = ? AND contact_id IN (${list})`, [ws, ...ids]),
        conversations: await tx.run(`DELETE FROM conversations WHERE workspace = ? AND contact_id IN (${list})`, [ws, ...ids]),
        handles: await tx.run(`DELETE FROM handles WHERE workspace = ? AND contact_id IN (${list})`, [ws, ...ids]),
        merges: await tx.run(`DELETE FROM merges WHERE workspace = ? AND (survivor_id IN (${list}) OR merged_id IN (${list}))`, [ws, ...ids, ...ids]),
        suggestions: await tx.run(`DELETE FROM merge_suggestions WHERE workspace = ? AND (contact_a IN (${list}) OR contact_b IN (${list}))`, [
          ws,
          ...ids,
          ...ids,
        ]),
        contacts: await tx.run(`DELETE FROM contacts WHERE workspace = ? AND id IN (${list})`, [ws, ...ids]),
      };
      return { contactId: rootId, erasedContactIds: ids, deleted, sharedHandlesKept: holders.length - claims.length };
    });
    await this.driver.purgeDeleted();
    return report;
  }
}

export function createOmnithread(options: OmnithreadOptions): Omnithread {
  return new Omnithread(options);
}
