/**
 * omnithread-route (AI Route): classifies a customer message (an OpenAI-compatible LLM from an
 * omnithread-llm config, else the built-in rules) and routes it: to an AI agent, a human agent, a queue,
 * or an earlier answer. All of it is shared/routing (runRoute); this node maps msg and properties to a
 * RouteRequest and sends the result on the output of its kind.
 */
import { OmnithreadError, ROUTE_TARGET_KINDS, runRoute } from '../../shared';
import type { RouteOperationResult, RouteRequest } from '../../shared';
import { compact, contactIdOf, errorStatus, fromMsg, nodeError, parseJsonProperty, useStore } from './common';
import type { NodeDef, NodeMessage, NodeStatus, RedApi, RedNode } from './common';

interface RouteDef extends NodeDef {
  store?: string;
  llm?: string;
  intents?: string;
  routeOptions?: string;
}

/** What this node reads from an omnithread-llm config. */
interface LlmConfigNode extends RedNode {
  settings: Record<string, unknown>;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** The node's intents: the classifier rules (ClassifierRulesSchema), or just the list of intents. */
function rulesOf(value: unknown): unknown {
  const parsed = parseJsonProperty(value, 'intents');
  return Array.isArray(parsed) ? { intents: parsed } : parsed;
}

/** The LLM settings of the node's omnithread-llm config, if one is chosen. */
function llmOf(RED: RedApi, id: string | undefined): Record<string, unknown> | undefined {
  if (!id) return undefined;
  const config = RED.nodes.getNode(id) as LlmConfigNode | null;
  if (!config) throw new OmnithreadError('INVALID_INPUT', `The LLM (omnithread-llm config ${id}) does not exist or is disabled: pick it again in the node`, { field: 'llm' });
  return config.settings;
}

/** The RouteRequest for a msg: the message from msg (as omnithread in / omnithread identity send it), the settings from the node. */
function routeRequestOf(msg: NodeMessage, def: RouteDef, llm: Record<string, unknown> | undefined): RouteRequest {
  const payload = isRecord(msg.payload) ? msg.payload : {};
  const event = isRecord(payload.event) ? payload.event : {};
  const message = isRecord(payload.message) ? payload.message : {};
  const options = fromMsg(msg, 'routeOptions') ?? parseJsonProperty(def.routeOptions, 'routeOptions');
  return compact({
    contactId: contactIdOf(msg, undefined) ?? text(msg.topic) ?? text(event.contactId),
    conversationId: fromMsg(msg, 'conversationId') ?? text(event.conversationId),
    eventId: text(event.id) ?? fromMsg(msg, 'eventId'),
    text: fromMsg(msg, 'text', true) ?? text(event.text) ?? text(message.text) ?? '',
    channel: fromMsg(msg, 'channel', true) ?? text(event.channel) ?? text(message.channel),
    language: fromMsg(msg, 'language'),
    rules: fromMsg(msg, 'intents') ?? rulesOf(def.intents),
    llm,
    options: options ?? {},
  }) as RouteRequest;
}

function routeStatus(result: RouteOperationResult): NodeStatus {
  const { target } = result;
  const fallback = result.classification.fallback ? ' (rules fallback)' : '';
  const who = target.kind === 'queue' ? (target.queue && target.queue !== 'default' ? `: ${target.queue}` : '') : target.agentId ? `: ${target.agentId}` : '';
  const fill = target.kind === 'queue' ? 'yellow' : 'green';
  return { fill: result.duplicate ? 'grey' : fill, shape: 'dot', text: `${target.kind}${who}${fallback}`.slice(0, 40) };
}

function register(RED: RedApi): void {
  function OmnithreadRoute(this: RedNode, def: RouteDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const omnithread = useStore(RED, node, def.store);

    // One output per kind of target (ai, human, queue, answer): the handler sends to one of them.
    node.on('input', (msg, send, done) => {
      void (async () => {
        try {
          node.status({ fill: 'blue', shape: 'dot', text: 'routing' });
          const request = routeRequestOf(msg, def, llmOf(RED, def.llm));
          const result = await runRoute(await omnithread, request);
          const contactId = request.contactId;
          msg.payload = result;
          msg.route = result;
          msg.classification = result.classification;
          // What the nodes after this one (reply, handoff) read: who, which conversation, which message.
          if (msg.contactId === undefined) msg.contactId = contactId;
          if (result.conversationId) msg.conversationId = result.conversationId;
          if (msg.inReplyTo === undefined && request.eventId) msg.inReplyTo = request.eventId;
          const outputs: (NodeMessage | null)[] = ROUTE_TARGET_KINDS.map((kind) => (kind === result.output ? msg : null));
          node.status(routeStatus(result));
          send(outputs as unknown as NodeMessage[]);
          done();
        } catch (error) {
          node.status(errorStatus(error));
          done(nodeError(error));
        }
      })();
    });
  }

  RED.nodes.registerType('omnithread-route', OmnithreadRoute);
}

export = Object.assign(register, { routeRequestOf, routeStatus, rulesOf });
