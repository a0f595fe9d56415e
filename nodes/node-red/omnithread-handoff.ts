/**
 * omnithread-handoff: hands a conversation to a person (a handoff packet with transcript, summary, intent,
 * sentiment, priority, SLA and open channel windows), and follows it up (accept, release, resolve,
 * escalate an expired offer, state); plus the agent roster AI Route chooses from (upsert, status, list,
 * get, remove, import, loads). All of it is shared/routing (runHandoffOperation, runRosterOperation);
 * this node maps its properties and msg overrides to the operation's input and puts the result in msg.payload.
 */
import { HANDOFF_OPERATIONS, OmnithreadError, ROSTER_OPERATIONS, runHandoffOperation, runRosterOperation } from '../../shared';
import type { HandoffOperation, RosterOperation } from '../../shared';
import { compact, fromMsg, fromNode, listProperty, numberProperty, onOperation, parseJsonProperty, useStore } from './common';
import type { NodeDef, NodeMessage, NodeStatus, RedApi, RedNode } from './common';

interface HandoffDef extends NodeDef {
  store?: string;
  operation?: string;
  conversationId?: string;
  handoffId?: string;
  agentId?: string;
  toAgentId?: string;
  queue?: string;
  reason?: string;
  fromAgentId?: string;
  botAttempts?: string;
  priority?: string;
  slaMinutes?: string | number;
  offerTimeoutSeconds?: string | number;
  maxTokens?: string | number;
  agentStatus?: string;
  agent?: string;
  roster?: string;
  filter?: string;
  agentIds?: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isHandoffOperation = (op: string): op is HandoffOperation => (HANDOFF_OPERATIONS as readonly string[]).includes(op);
const isRosterOperation = (op: string): op is RosterOperation => (ROSTER_OPERATIONS as readonly string[]).includes(op);

/** The route result a msg carries (msg.payload after an omnithread route node, or msg.route), if any. */
function routeOf(msg: NodeMessage): Record<string, unknown> | undefined {
  if (isRecord(msg.payload) && isRecord(msg.payload.target) && isRecord(msg.payload.classification)) return msg.payload;
  return isRecord(msg.route) && isRecord(msg.route.target) ? msg.route : undefined;
}

/** msg[key], msg.payload[key], then the node's property. */
const param = (msg: NodeMessage, key: string, configured: unknown): unknown => fromMsg(msg, key, true) ?? fromNode(configured);

/** The JSON a roster operation works on: msg[key], an object or array msg.payload, else the node's JSON. */
function jsonInput(msg: NodeMessage, key: string, configured: unknown, payloadOk: (payload: unknown) => boolean): unknown {
  if (msg[key] !== undefined && msg[key] !== null) return msg[key];
  if (payloadOk(msg.payload)) return msg.payload;
  return parseJsonProperty(configured, key);
}

/** The input of a handoff operation, from msg overrides, a preceding route result, then the node. */
function handoffInputOf(operation: HandoffOperation, msg: NodeMessage, def: HandoffDef): Record<string, unknown> {
  const route = routeOf(msg);
  const target = route && isRecord(route.target) ? route.target : {};
  const conversationId = param(msg, 'conversationId', def.conversationId) ?? route?.conversationId ?? undefined;
  const agentId = param(msg, 'agentId', def.agentId);
  switch (operation) {
    case 'handOff':
      return compact({
        conversationId,
        toAgentId: fromMsg(msg, 'toAgentId') ?? (typeof target.agentId === 'string' ? target.agentId : undefined) ?? fromNode(def.toAgentId),
        queue: fromMsg(msg, 'queue') ?? (typeof target.queue === 'string' ? target.queue : undefined) ?? fromNode(def.queue),
        reason: fromMsg(msg, 'reason') ?? fromNode(def.reason) ?? route?.reason,
        fromAgentId: fromMsg(msg, 'fromAgentId') ?? fromNode(def.fromAgentId),
        botAttempts: listProperty(fromMsg(msg, 'botAttempts') ?? def.botAttempts),
        classification: fromMsg(msg, 'classification') ?? route?.classification,
        priority: fromMsg(msg, 'priority') ?? fromNode(def.priority) ?? route?.priority,
        summary: fromMsg(msg, 'summary'),
        maxTokens: numberProperty(fromMsg(msg, 'maxTokens') ?? def.maxTokens),
        slaMinutes: numberProperty(fromMsg(msg, 'slaMinutes') ?? def.slaMinutes),
        offerTimeoutSeconds: numberProperty(fromMsg(msg, 'offerTimeoutSeconds') ?? def.offerTimeoutSeconds),
        // A redelivered msg (the same routed message) hands off once.
        idempotencyKey: fromMsg(msg, 'idempotencyKey') ?? (typeof route?.eventId === 'string' ? `handoff:${route.eventId}` : undefined),
      });
    case 'accept':
      return compact({ handoffId: param(msg, 'handoffId', def.handoffId), conversationId, agentId });
    case 'release':
      return compact({ conversationId, agentId, reason: fromMsg(msg, 'reason') ?? fromNode(def.reason) });
    case 'resolve':
      return compact({ conversationId, agentId });
    case 'escalate':
    case 'state':
      return compact({ conversationId });
  }
}

/** The input of a roster operation. */
function rosterInputOf(operation: RosterOperation, msg: NodeMessage, def: HandoffDef): Record<string, unknown> {
  const agentId = param(msg, 'agentId', def.agentId);
  switch (operation) {
    case 'upsertAgent':
      return { agent: jsonInput(msg, 'agent', def.agent, isRecord) ?? {} };
    case 'importRoster':
      return { roster: jsonInput(msg, 'roster', def.roster, (p) => Array.isArray(p) || (isRecord(p) && Array.isArray(p.agents))) ?? [] };
    case 'listAgents':
      return { filter: (isRecord(msg.filter) ? msg.filter : parseJsonProperty(def.filter, 'filter')) ?? {} };
    case 'setStatus':
      return compact({ agentId, status: fromMsg(msg, 'status') ?? fromNode(def.agentStatus) });
    case 'loads':
      return compact({ agentIds: listProperty(fromMsg(msg, 'agentIds') ?? def.agentIds) });
    default: // getAgent, removeAgent
      return compact({ agentId });
  }
}

function doneStatus(operation: string, result: unknown): NodeStatus {
  const r = (isRecord(result) ? result : {}) as Record<string, unknown>;
  const state = isRecord(r.state) ? r.state : undefined;
  const count = (items: unknown, what: string) => `${Array.isArray(items) ? items.length : 0} ${what}`;
  const text: Record<string, string> = {
    handOff: r.status === 'queued' ? `queued: ${String(r.queue ?? 'default')}` : `offered to ${String(r.to)}`,
    accept: `accepted by ${String(r.agentId)}`,
    release: 'released',
    resolve: 'resolved',
    escalate: r.escalated ? (state?.status === 'queued' ? 'queued' : `offered to ${String(state?.offeredTo)}`) : 'nothing to escalate',
    state: result ? String(r.status) : 'no handoff',
    upsertAgent: `saved ${String(r.id)}`,
    setStatus: `${String(r.id)}: ${String(r.status)}`,
    listAgents: count(result, 'agents'),
    getAgent: result ? String(r.id) : 'not found',
    removeAgent: r.removed ? 'removed' : 'not found',
    importRoster: `imported ${count(result, 'agents')}`,
    loads: count(result, 'agents'),
  };
  return { fill: 'green', shape: 'dot', text: (text[operation] ?? 'done').slice(0, 40) };
}

function register(RED: RedApi): void {
  function OmnithreadHandoff(this: RedNode, def: HandoffDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const omnithread = useStore(RED, node, def.store);
    const operation = def.operation || 'handOff';

    onOperation(node, async (msg) => {
      let result: unknown;
      if (isHandoffOperation(operation)) result = await runHandoffOperation(await omnithread, operation, handoffInputOf(operation, msg, def));
      else if (isRosterOperation(operation)) result = await runRosterOperation(await omnithread, operation, rosterInputOf(operation, msg, def));
      else throw new OmnithreadError('INVALID_INPUT', `Unknown operation "${operation}": choose one of ${[...HANDOFF_OPERATIONS, ...ROSTER_OPERATIONS].join(', ')}`, { field: 'operation' });
      return { payload: result ?? null, status: doneStatus(operation, result) };
    });
  }

  RED.nodes.registerType('omnithread-handoff', OmnithreadHandoff);
}

export = Object.assign(register, { handoffInputOf, rosterInputOf, doneStatus });
