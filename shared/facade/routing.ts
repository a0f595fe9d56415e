/**
 * The facade's part of routing: the agent roster, manual assignment, what a route decision reads about a
 * person, and committing a decision atomically under the workspace's routing lock.
 */
import { OmnithreadError, notFound } from '../errors';
import { parseInput } from '../model';
import { lockRoot } from '../identity/contacts';
import {
  Agent,
  AgentFilterSchema,
  AgentIdSchema,
  AgentStatusSchema,
  agentLoads,
  getAgent,
  listAgents,
  loadOf,
  parseAgent,
  parseRosterImport,
  removeAgent,
  setAgentStatus,
  upsertAgent,
} from '../routing/roster';
import { FAMILY_IDS, SqlTransaction } from '../store/driver';
import { ConversationRow, eventFromRow, getConversationRow, getEvent, insertEvent, openConversation } from '../timeline/events';
import { FacadeContext, assignedFromRow, contactView, conversationOf, delivery, digest, lockFor, remember, rootOf } from './context';
import type { AssignedConversation, OmnithreadRoster, RouteCommit, RouteCommitResult, RoutingContext, RoutingState } from './types';

/**
 * The agent roster: humans and AI agents with skills, languages, channels and capacity. Each write is
 * one transaction; an import is validated whole and written whole, or not at all.
 */
export function roster(ctx: FacadeContext): OmnithreadRoster {
  const agentId = (id: string) => parseInput(AgentIdSchema, id, 'agent id');
  const write = <T>(keys: string[], fn: (tx: SqlTransaction) => Promise<T>) =>
    ctx.driver.transaction(async (tx) => {
      await lockFor(ctx, tx, 'shared', keys.map((k) => `agent:${k}`));
      return fn(tx);
    });
  return {
    upsert: async (input) => {
      const agent = parseAgent(input);
      const now = ctx.clock();
      return write([agent.id], (tx) => upsertAgent(tx, ctx.workspace, agent, now));
    },
    get: async (id) => ctx.driver.read((db) => getAgent(db, ctx.workspace, agentId(id))),
    list: async (filter = {}) => {
      const parsed = parseInput(AgentFilterSchema, filter, 'agent filter');
      return ctx.driver.read((db) => listAgents(db, ctx.workspace, parsed));
    },
    setStatus: async (id, status) => {
      const parsedId = agentId(id);
      const parsedStatus = parseInput(AgentStatusSchema, status, 'agent status');
      const now = ctx.clock();
      return write([parsedId], (tx) => setAgentStatus(tx, ctx.workspace, parsedId, parsedStatus, now));
    },
    remove: async (id) => {
      const parsedId = agentId(id);
      return write([parsedId], (tx) => removeAgent(tx, ctx.workspace, parsedId));
    },
    import: async (input) => {
      const agents = parseRosterImport(input);
      const now = ctx.clock();
      return write(
        agents.map((a) => a.id),
        async (tx) => {
          const out: Agent[] = [];
          for (const agent of agents) out.push(await upsertAgent(tx, ctx.workspace, agent, now));
          return out;
        },
      );
    },
    loads: async (agentIds) => {
      const ids = agentIds === undefined ? undefined : agentIds.map(agentId);
      return ctx.driver.read((db) => agentLoads(db, ctx.workspace, ids));
    },
  };
}

/**
 * Assigns a conversation to an agent of the roster (or unassigns it with null). It then counts toward
 * the agent's load while it is open. NOT_FOUND for an unknown conversation or agent; CONFLICT when
 * assigning a conversation that is no longer open. Capacity and status are the router's business.
 */
export async function assignConversation(ctx: FacadeContext, conversationId: string, agentIdInput: string | null): Promise<AssignedConversation> {
  const agentId = agentIdInput === null ? null : parseInput(AgentIdSchema, agentIdInput, 'agent id');
  const now = ctx.clock();
  return ctx.driver.transaction(async (tx) => {
    // The routing lock too: a manual assignment and a route decision never both see the same free capacity.
    await lockFor(ctx, tx, 'shared', agentId ? ['routing', `agent:${agentId}`] : []);
    const row = await getConversationRow(tx, ctx.workspace, conversationId);
    if (!row) throw notFound('Conversation', conversationId);
    if (agentId !== null) {
      if (!(await getAgent(tx, ctx.workspace, agentId))) throw notFound('Agent', agentId);
      if (row.status !== 'open') throw new OmnithreadError('CONFLICT', `Conversation ${conversationId} is ${row.status}; only an open conversation can be assigned`);
    }
    await tx.run('UPDATE conversations SET assigned_agent_id = ?, assigned_at = ? WHERE workspace = ? AND id = ?', [agentId, agentId === null ? null : now, ctx.workspace, conversationId]);
    return assignedFromRow(ctx.workspace, (await getConversationRow(tx, ctx.workspace, conversationId))!);
  });
}

/**
 * What routing reads about a person, on one snapshot: the contact (with attributes), every conversation
 * with its assignment, and the messages and calls since `since` (epoch ms), oldest first.
 */
export async function routingContext(ctx: FacadeContext, contactId: string, options: { since?: number; limit?: number } = {}): Promise<RoutingContext> {
  const since = options.since ?? 0;
  const limit = Math.min(Math.max(1, options.limit ?? 5000), 20_000);
  return ctx.driver.read(async (db) => {
    const rootId = await rootOf(ctx, db, contactId);
    const contact = await contactView(ctx, db, rootId);
    const rows = await db.all<ConversationRow>(
      `SELECT * FROM conversations WHERE workspace = ? AND contact_id IN (${FAMILY_IDS}) ORDER BY last_activity_at DESC, id DESC`,
      [ctx.workspace, ctx.workspace, rootId],
    );
    const events = await db.all<Parameters<typeof eventFromRow>[1]>(
      `SELECT * FROM (SELECT * FROM events WHERE workspace = ? AND contact_id IN (${FAMILY_IDS}) AND kind IN ('message', 'call') AND occurred_at >= ?
         ORDER BY occurred_at DESC, seq DESC LIMIT ?) recent ORDER BY occurred_at, seq`,
      [ctx.workspace, ctx.workspace, rootId, since, limit],
    );
    return {
      contact,
      conversations: rows.map((row) => assignedFromRow(ctx.workspace, row)),
      messages: events.map((row) => eventFromRow(ctx.workspace, row)),
    };
  });
}

export interface RouteRequest<T> {
  contactId: string;
  conversationId?: string | null;
  channel: string;
  idempotencyKey?: string;
  decide: (state: RoutingState) => RouteCommit<T>;
}

/**
 * Routes a person's conversation atomically. In one transaction, under the workspace's routing lock
 * (a PostgreSQL advisory lock; SQLite's write transactions are serial anyway), it reads the roster and
 * every agent's load fresh, lets `decide` choose, assigns the conversation to the chosen agent only
 * if that agent is still available with room for the channel, and records the decision event. Two
 * decisions at once, in one process or several, therefore never both fill the same last slot.
 * With an idempotency key, a second call returns the first decision's event and writes nothing.
 */
export async function routeConversation<T>(ctx: FacadeContext, input: RouteRequest<T>): Promise<RouteCommitResult<T>> {
  const now = ctx.clock();
  const dedupeKey = input.idempotencyKey ? digest('route', input.idempotencyKey) : undefined;
  return ctx.driver.transaction(async (tx) => {
    await lockFor(ctx, tx, 'shared', ['routing', ...(dedupeKey ? [`delivery:${dedupeKey}`] : [])]);
    if (dedupeKey) {
      const seen = await delivery(ctx, tx, dedupeKey);
      if (seen) {
        const event = seen.event_id ? await getEvent(tx, ctx.workspace, seen.event_id) : undefined;
        if (!event) throw new OmnithreadError('CONFLICT', 'This was routed before and its contact has since been erased; it is not routed again');
        const row = event.conversationId ? await getConversationRow(tx, ctx.workspace, event.conversationId) : undefined;
        return { duplicate: true, result: null, event, conversation: row ? assignedFromRow(ctx.workspace, row) : null };
      }
    }
    const rootId = await lockRoot(tx, ctx.workspace, input.contactId);
    const row = input.conversationId ? await conversationOf(ctx, tx, rootId, input.conversationId) : await openConversation(tx, ctx.workspace, rootId);
    const conversation = row ? assignedFromRow(ctx.workspace, row) : null;
    const agents = await listAgents(tx, ctx.workspace);
    const open = await tx.all<{ id: string; assigned_agent_id: string; last_channel: string | null }>(
      `SELECT id, assigned_agent_id, last_channel FROM conversations WHERE workspace = ? AND status = 'open' AND assigned_agent_id IS NOT NULL`,
      [ctx.workspace],
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
      await tx.run('UPDATE conversations SET assigned_agent_id = ?, assigned_at = ? WHERE workspace = ? AND id = ?', [agent.id, now, ctx.workspace, conversation.id]);
      updated = assignedFromRow(ctx.workspace, (await getConversationRow(tx, ctx.workspace, conversation.id))!);
    }
    const event = await insertEvent(
      tx,
      ctx.workspace,
      { contactId: rootId, conversationId: conversation?.id ?? null, kind: commit.event.kind, channel: commit.event.channel ?? input.channel, text: commit.event.text, occurredAt: now, data: commit.event.data },
      now,
    );
    if (dedupeKey) await remember(ctx, tx, dedupeKey, event.id, now);
    return { duplicate: false, result: commit.result, event, conversation: updated };
  });
}
