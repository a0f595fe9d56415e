/**
 * omnithread-timeline: a person's cross-channel timeline, events or transcript, a custom event appended
 * to it, or the workspace's continuity metrics. Maps node properties and msg overrides to one shared operation (shared/operations.ts)
 * and puts the result in msg.payload.
 */
import { TIMELINE_OPERATION_FIELDS, runTimelineOperation } from '../../shared';
import type { TimelineOperation } from '../../shared';
import { compact, contactIdOf, fromMsg, fromNode, listProperty, numberProperty, onOperation, parseJsonProperty, useStore } from './common';
import type { NodeDef, NodeMessage, NodeStatus, RedApi, RedNode } from './common';

interface TimelineDef extends NodeDef {
  store?: string;
  operation?: string;
  contactId?: string;
  channels?: string;
  kinds?: string;
  since?: string;
  until?: string;
  conversationId?: string;
  order?: string;
  limit?: string | number;
  cursor?: string;
  maxTokens?: string | number;
  eventKind?: string;
  text?: string;
  eventChannel?: string;
  data?: string;
  idempotencyKey?: string;
  from?: string;
  to?: string;
  bucket?: string;
  metricsChannel?: string;
  agentId?: string;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The node's filter, with msg.filter (an object of the same fields) and msg.cursor on top. */
function filterOf(msg: NodeMessage, def: TimelineDef): Record<string, unknown> {
  const configured = compact({
    channels: listProperty(def.channels),
    kinds: listProperty(def.kinds),
    since: numberOrText(def.since),
    until: numberOrText(def.until),
    conversationId: fromNode(def.conversationId),
    order: fromNode(def.order),
    limit: numberProperty(def.limit),
    cursor: fromNode(def.cursor),
  });
  const override: Record<string, unknown> = isObject(msg.filter) ? compact({ ...msg.filter, channels: listProperty(msg.filter.channels), kinds: listProperty(msg.filter.kinds) }) : {};
  return compact({ ...configured, ...override, cursor: fromMsg(msg, 'cursor') ?? override.cursor ?? configured.cursor });
}

/** Dates are ISO strings or epoch milliseconds; a typed "1732000000000" means the number. */
const numberOrText = (value: unknown): unknown => (typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : fromNode(value));

function input(field: string, msg: NodeMessage, def: TimelineDef): unknown {
  switch (field) {
    case 'contactId':
      return contactIdOf(msg, def.contactId);
    case 'filter':
      return filterOf(msg, def);
    case 'maxTokens':
      return numberProperty(fromMsg(msg, 'maxTokens') ?? def.maxTokens);
    case 'kind':
      return fromMsg(msg, 'eventKind') ?? fromNode(def.eventKind);
    case 'channel':
      return fromMsg(msg, 'eventChannel') ?? fromNode(def.eventChannel);
    case 'data':
      return fromMsg(msg, 'data') ?? parseJsonProperty(def.data, 'data');
    default: // text, conversationId, idempotencyKey
      return fromMsg(msg, field) ?? fromNode(def[field as keyof TimelineDef]);
  }
}

/**
 * The metrics query: the node's From, To, Bucket, Channel and Agent, with msg.metrics (an object of the same
 * fields) on top. Only that object: a trigger's msg.payload has `from` and `channel` of its own.
 */
function metricsInput(field: string, msg: NodeMessage, def: TimelineDef): unknown {
  const override = isObject(msg.metrics) ? msg.metrics : {};
  const configured: Record<string, unknown> = {
    from: numberOrText(def.from),
    to: numberOrText(def.to),
    bucket: fromNode(def.bucket),
    channel: fromNode(def.metricsChannel),
    agentId: fromNode(def.agentId),
  };
  return numberOrText(override[field]) ?? configured[field];
}

function doneStatus(operation: string, result: unknown): NodeStatus {
  const r = result as Record<string, unknown>;
  const count = (events: unknown) => `${Array.isArray(events) ? events.length : 0} events`;
  const opened = Number((r.totals as Record<string, unknown> | undefined)?.conversations ?? 0);
  const text: Record<string, string> = {
    items: count(result),
    timeline: count(r.events),
    transcript: `~${String(r.estimatedTokens)} tokens`,
    append: 'appended',
    metrics: `${opened} conversation${opened === 1 ? '' : 's'}`,
  };
  return { fill: 'green', shape: 'dot', text: text[operation] ?? 'done' };
}

export = function register(RED: RedApi): void {
  function OmnithreadTimeline(this: RedNode, def: TimelineDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const omnithread = useStore(RED, node, def.store);
    const operation = def.operation || 'timeline';
    const fields = TIMELINE_OPERATION_FIELDS[operation] ?? [];

    onOperation(node, async (msg) => {
      const read = operation === 'metrics' ? metricsInput : input;
      const op = compact(Object.fromEntries([['operation', operation], ...fields.map((f) => [f, read(f, msg, def)])]));
      const result = await runTimelineOperation(await omnithread, op as TimelineOperation);
      return { payload: result, status: doneStatus(operation, result as Record<string, unknown>) };
    });
  }

  RED.nodes.registerType('omnithread-timeline', OmnithreadTimeline);
};
