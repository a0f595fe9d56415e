/**
 * omnithread-identity: resolve and record a message's sender, look people up, merge and unmerge them,
 * work through merge suggestions, export and erase. Maps node properties and msg overrides to one
 * shared operation (shared/operations.ts) and puts the result in msg.payload.
 */
import { IDENTITY_OPERATION_FIELDS, runIdentityOperation } from '../../shared';
import type { IdentityOperation } from '../../shared';
import { compact, contactIdOf, fromMsg, fromNode, numberProperty, onOperation, parseJsonProperty, useStore } from './common';
import type { NodeDef, NodeMessage, NodeStatus, RedApi, RedNode } from './common';

interface IdentityDef extends NodeDef {
  store?: string;
  operation?: string;
  contactId?: string;
  otherContactId?: string;
  mergeId?: string;
  suggestionId?: string;
  handleKind?: string;
  handleValue?: string;
  handleScope?: string;
  handles?: string;
  contactName?: string;
  dryRun?: boolean;
  reason?: string;
  actor?: string;
  suggestionStatus?: string;
  limit?: string | number;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** One operation input, from the msg override or the node property. */
function input(field: string, msg: NodeMessage, def: IdentityDef, operation: string): unknown {
  switch (field) {
    case 'message': // the trigger's msg.payload.message, or a message given as msg.payload itself
      return isObject(msg.payload) && isObject(msg.payload.message) ? msg.payload.message : msg.payload;
    case 'contactId': {
      // Looking someone up by a handle: only an explicit contact id competes with it.
      if (operation === 'get' && input('handle', msg, def, operation) !== undefined) return fromMsg(msg, 'contactId') ?? fromNode(def.contactId);
      return contactIdOf(msg, def.contactId);
    }
    case 'otherContactId':
    case 'mergeId':
    case 'suggestionId':
      return fromMsg(msg, field, true) ?? fromNode(def[field as keyof IdentityDef]);
    case 'handle':
      return fromMsg(msg, 'handle', true) ?? (fromNode(def.handleValue) === undefined ? undefined : compact({ kind: def.handleKind || 'email', value: def.handleValue, scope: fromNode(def.handleScope) }));
    case 'handles':
      return fromMsg(msg, 'handles', true) ?? parseJsonProperty(def.handles, 'handles');
    case 'name':
      return fromMsg(msg, 'contactName') ?? fromNode(def.contactName);
    case 'dryRun':
      return fromMsg(msg, 'dryRun') ?? Boolean(def.dryRun);
    case 'status':
      return fromMsg(msg, 'suggestionStatus') ?? fromNode(def.suggestionStatus);
    case 'limit':
      return numberProperty(fromMsg(msg, 'limit') ?? def.limit);
    default: // reason, actor
      return fromMsg(msg, field) ?? fromNode(def[field as keyof IdentityDef]);
  }
}

function doneStatus(operation: string, result: Record<string, unknown> | unknown[]): NodeStatus {
  const r = result as Record<string, unknown>;
  const text: Record<string, string> = {
    resolve: r.duplicate ? 'recognised (again)' : (r.identity as { created?: boolean })?.created ? 'new contact' : 'recognised',
    resolveHandles: r.dryRun ? 'dry run' : (r.identity as { created?: boolean })?.created ? 'new contact' : 'recognised',
    get: r.found ? 'found' : 'not found',
    merge: 'merged',
    unmerge: 'unmerged',
    suggestions: `${Array.isArray(result) ? result.length : 0} suggestions`,
    acceptSuggestion: 'merged',
    dismissSuggestion: 'dismissed',
    export: 'exported',
    erase: 'erased',
  };
  return { fill: operation === 'get' && !r.found ? 'grey' : 'green', shape: 'dot', text: text[operation] ?? 'done' };
}

export = function register(RED: RedApi): void {
  function OmnithreadIdentity(this: RedNode, def: IdentityDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const omnithread = useStore(RED, node, def.store);
    const operation = def.operation || 'resolve';
    const fields = IDENTITY_OPERATION_FIELDS[operation] ?? [];

    onOperation(node, async (msg) => {
      const op = compact(Object.fromEntries([['operation', operation], ...fields.map((f) => [f, input(f, msg, def, operation)])]));
      const result = await runIdentityOperation(await omnithread, op as IdentityOperation);
      return { payload: result, status: doneStatus(operation, result as Record<string, unknown>) };
    });
  }

  RED.nodes.registerType('omnithread-identity', OmnithreadIdentity);
};
