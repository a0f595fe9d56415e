/**
 * Runs the Omnithread n8n nodes inside n8n's real engine (n8n-core's WorkflowExecute and WebhookContext),
 * the way n8n's own node tests do (packages/core/nodes-testing): real node types, a credentials helper that
 * hands out decrypted test data by credential type, and additionalData mocked with jest-mock-extended.
 */
import { n8nUserFolder } from './n8n-env'; // first: sets up the environment n8n-core reads when it loads
import { rmSync } from 'node:fs';
import type { Request, Response } from 'express';
import { mock } from 'jest-mock-extended';
import { ExecutionLifecycleHooks, HookContext, PollContext, WebhookContext, WorkflowExecute } from 'n8n-core';
import { ICredentialsHelper, NodeHelpers, Workflow, createRunExecutionData } from 'n8n-workflow';
import type {
  ICredentialDataDecryptedObject,
  ICredentials,
  ICredentialsDecrypted,
  ICredentialTestFunctions,
  IDataObject,
  IHttpRequestOptions,
  INode,
  INodeCredentialTestResult,
  INodeExecutionData,
  INodeType,
  INodeTypeDescription,
  INodeTypes,
  IExecuteFunctions,
  IRun,
  IVersionedNodeType,
  IWebhookData,
  IWebhookResponseData,
  IWorkflowBase,
  IWorkflowExecuteAdditionalData,
  WorkflowExecuteMode,
} from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';
import { OmnithreadStoreApi } from '../../credentials/OmnithreadStoreApi.credentials';
import { OmnithreadIdentityResolve } from '../../nodes/n8n/OmnithreadIdentityResolve/OmnithreadIdentityResolve.node';
import { OmnithreadTimelineLookup } from '../../nodes/n8n/OmnithreadTimelineLookup/OmnithreadTimelineLookup.node';
import { OmnithreadTrigger } from '../../nodes/n8n/OmnithreadTrigger/OmnithreadTrigger.node';
import { OmnithreadEmailTrigger } from '../../nodes/n8n/OmnithreadEmailTrigger/OmnithreadEmailTrigger.node';
import { OmnithreadReply } from '../../nodes/n8n/OmnithreadReply/OmnithreadReply.node';
import { OmnithreadAiRoute } from '../../nodes/n8n/OmnithreadAiRoute/OmnithreadAiRoute.node';
import { OmnithreadHandoff } from '../../nodes/n8n/OmnithreadHandoff/OmnithreadHandoff.node';
import { OmnithreadDesk } from '../../nodes/n8n/OmnithreadDesk/OmnithreadDesk.node';
import { closeAllStores } from '../../shared';

export { n8nUserFolder };

export const PACKAGE = '@omnithread/n8n-nodes-omnithread';
export const TYPES = {
  trigger: `${PACKAGE}.omnithreadTrigger`,
  identity: `${PACKAGE}.omnithreadIdentityResolve`,
  timeline: `${PACKAGE}.omnithreadTimelineLookup`,
  emailTrigger: `${PACKAGE}.omnithreadEmailTrigger`,
  reply: `${PACKAGE}.omnithreadReply`,
  aiRoute: `${PACKAGE}.omnithreadAiRoute`,
  handoff: `${PACKAGE}.omnithreadHandoff`,
  desk: `${PACKAGE}.omnithreadDesk`,
  input: 'test.input',
} as const;
export const CREDENTIAL = 'omnithreadStoreApi';

/** A start node for tests that feed items straight into an Omnithread node. */
class TestInput implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Test Input',
    name: 'input',
    group: ['input'],
    version: 1,
    description: 'Passes its input through',
    defaults: { name: 'Input' },
    inputs: [NodeConnectionTypes.Main],
    outputs: [NodeConnectionTypes.Main],
    properties: [],
  };
  async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
    return [this.getInputData()];
  }
}

/** n8n's sticky note (documentation on the canvas, never run), as templates contain it. */
class StickyNote implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Sticky Note',
    name: 'stickyNote',
    group: ['input'],
    version: 1,
    description: 'A note on the canvas',
    defaults: { name: 'Sticky Note' },
    inputs: [],
    outputs: [],
    properties: [
      { displayName: 'Content', name: 'content', type: 'string', default: '' },
      { displayName: 'Height', name: 'height', type: 'number', default: 160 },
      { displayName: 'Width', name: 'width', type: 'number', default: 240 },
    ],
  };
}

/**
 * n8n's HTTP Request node (n8n-nodes-base.httpRequest, v4.2), as far as templates use it: a POST of a JSON
 * body ("Send Body", "Specify Body: Using JSON") through n8n's own request helper. n8n-nodes-base is not a
 * dependency; this stand-in keeps the real node's type, version and parameter names.
 */
class HttpRequest implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'HTTP Request',
    name: 'httpRequest',
    group: ['output'],
    version: [4, 4.1, 4.2],
    description: 'Makes an HTTP request and returns the response data',
    defaults: { name: 'HTTP Request' },
    inputs: [NodeConnectionTypes.Main],
    outputs: [NodeConnectionTypes.Main],
    properties: [
      { displayName: 'Method', name: 'method', type: 'options', options: [{ name: 'GET', value: 'GET' }, { name: 'POST', value: 'POST' }], default: 'GET' },
      { displayName: 'URL', name: 'url', type: 'string', default: '' },
      { displayName: 'Send Body', name: 'sendBody', type: 'boolean', default: false },
      { displayName: 'Specify Body', name: 'specifyBody', type: 'options', options: [{ name: 'Using JSON', value: 'json' }], default: 'json' },
      { displayName: 'JSON', name: 'jsonBody', type: 'json', default: '' },
      { displayName: 'Options', name: 'options', type: 'collection', default: {}, options: [] },
    ],
  };
  async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
    const items = this.getInputData();
    const out: INodeExecutionData[] = [];
    for (let i = 0; i < items.length; i++) {
      const sendBody = this.getNodeParameter('sendBody', i, false) as boolean;
      const raw = sendBody ? this.getNodeParameter('jsonBody', i, '') : undefined;
      const body = typeof raw === 'string' && raw.trim() ? JSON.parse(raw) : raw;
      const response = await this.helpers.httpRequest({
        method: this.getNodeParameter('method', i) as 'POST',
        url: this.getNodeParameter('url', i) as string,
        ...(sendBody ? { body, json: true } : { json: true }),
      });
      out.push({ json: (response ?? {}) as IDataObject, pairedItem: { item: i } });
    }
    return [out];
  }
}

export const nodeTypeInstances = {
  trigger: new OmnithreadTrigger(),
  identity: new OmnithreadIdentityResolve(),
  timeline: new OmnithreadTimelineLookup(),
  emailTrigger: new OmnithreadEmailTrigger(),
  aiRoute: new OmnithreadAiRoute(),
  handoff: new OmnithreadHandoff(),
  desk: new OmnithreadDesk(),
};

/** Node types a test file adds (nodes not yet in nodeTypeInstances), by full type name. */
const extraNodeTypes: Record<string, INodeType | IVersionedNodeType> = {};

/** Makes a node type (an instance of its class) available to the workflows this file builds. */
export function registerNodeType(type: string, nodeType: INodeType | IVersionedNodeType): void {
  extraNodeTypes[type] = nodeType;
}

export class TestNodeTypes implements INodeTypes {
  private readonly types: Record<string, INodeType | IVersionedNodeType> = {
    ...extraNodeTypes,
    [TYPES.trigger]: nodeTypeInstances.trigger,
    [TYPES.identity]: nodeTypeInstances.identity,
    [TYPES.timeline]: nodeTypeInstances.timeline,
    [TYPES.emailTrigger]: nodeTypeInstances.emailTrigger,
    [TYPES.reply]: extraNodeTypes[TYPES.reply] ?? new OmnithreadReply(),
    [TYPES.aiRoute]: nodeTypeInstances.aiRoute,
    [TYPES.handoff]: nodeTypeInstances.handoff,
    [TYPES.desk]: nodeTypeInstances.desk,
    [TYPES.input]: new TestInput(),
    'n8n-nodes-base.stickyNote': new StickyNote(),
    'n8n-nodes-base.httpRequest': new HttpRequest(),
  };
  getByName(type: string): INodeType | IVersionedNodeType {
    const nodeType = this.types[type];
    if (!nodeType) throw new Error(`Unknown node type ${type}`);
    return nodeType;
  }
  getByNameAndVersion(type: string, version?: number): INodeType {
    return NodeHelpers.getVersionedNodeType(this.getByName(type), version);
  }
  getKnownTypes() {
    return {};
  }
}

/** Hands out decrypted credential data by credential type, as n8n's test harness does. */
export class TestCredentialsHelper extends ICredentialsHelper {
  constructor(private readonly data: Record<string, ICredentialDataDecryptedObject> = {}) {
    super();
  }
  getParentTypes(): string[] {
    return [];
  }
  isCredentialUsableByNode(): boolean {
    return true;
  }
  async authenticate(_credentials: ICredentialDataDecryptedObject, _type: string, request: IHttpRequestOptions): Promise<IHttpRequestOptions> {
    return request;
  }
  async preAuthentication(): Promise<undefined> {
    return undefined;
  }
  async runPreAuthentication(): Promise<undefined> {
    return undefined;
  }
  async getCredentials(): Promise<ICredentials> {
    throw new Error('not supported in tests');
  }
  async getDecrypted(_additionalData: IWorkflowExecuteAdditionalData, _nodeCredentials: unknown, type: string): Promise<ICredentialDataDecryptedObject> {
    const data = this.data[type];
    if (!data) throw new Error(`No test data for credential ${type}`);
    return data;
  }
  async updateCredentials(): Promise<void> {}
  async updateCredentialsOauthTokenData(): Promise<void> {}
  getCredentialsProperties(type: string) {
    return type === CREDENTIAL ? new OmnithreadStoreApi().properties : [];
  }
}

export interface HarnessOptions {
  /** Decrypted data per credential type, e.g. { omnithreadStoreApi: { storeType: 'sqlite', sqlitePath } }. */
  credentials?: Record<string, ICredentialDataDecryptedObject>;
}

function additionalDataFor(hooks: ExecutionLifecycleHooks | undefined, options: HarnessOptions): IWorkflowExecuteAdditionalData {
  // Only plain values go into mock(): it wraps what it is given in mock proxies.
  const additionalData = mock<IWorkflowExecuteAdditionalData>({
    executionId: '1',
    currentNodeParameters: undefined,
    webhookBaseUrl: 'http://localhost:5678/webhook',
    webhookTestBaseUrl: 'http://localhost:5678/webhook-test',
    webhookWaitingBaseUrl: 'http://localhost:5678/webhook-waiting',
    formWaitingBaseUrl: 'http://localhost:5678/form-waiting',
    parentCallbackManager: undefined,
    userId: undefined,
    variables: {},
  } as never);
  additionalData.hooks = hooks;
  additionalData.credentialsHelper = new TestCredentialsHelper(options.credentials);
  // Auto-mocked properties are truthy functions; those n8n tests for presence must be really absent.
  for (const key of ['evalLlmMockHandler', 'ssrfBridge', 'encryptedRunnerIdentity', 'httpRequest', 'httpResponse', 'streamingEnabled', 'restartExecutionId', 'executionTimeoutTimestamp']) {
    (additionalData as unknown as Record<string, unknown>)[key] = undefined;
  }
  return additionalData;
}

export function buildWorkflow(json: Pick<IWorkflowBase, 'nodes' | 'connections'> & Partial<IWorkflowBase>): Workflow {
  return new Workflow({
    id: json.id ?? 'test-workflow',
    name: json.name ?? 'test',
    nodes: json.nodes,
    connections: json.connections,
    settings: json.settings,
    nodeTypes: new TestNodeTypes(),
    active: false,
    staticData: (json.staticData ?? undefined) as IDataObject | undefined,
  });
}

export interface RunResult {
  run: IRun;
  /** The items a node put out on its first output in its first run. */
  output(nodeName: string): INodeExecutionData[];
  /** The error a node failed with, if it did. */
  error(nodeName?: string): (Error & { description?: string; context?: IDataObject }) | undefined;
}

/** Runs a workflow in n8n's engine from `startNode`, fed `input` (what a trigger put out). */
export async function runWorkflow(
  json: Pick<IWorkflowBase, 'nodes' | 'connections'> & Partial<IWorkflowBase>,
  startNode: string,
  input: INodeExecutionData[],
  options: HarnessOptions & { mode?: WorkflowExecuteMode } = {},
): Promise<RunResult> {
  const workflow = buildWorkflow(json);
  const mode = options.mode ?? 'webhook';
  const hooks = new ExecutionLifecycleHooks(mode, '1', structuredClone({ id: workflow.id, name: workflow.name, nodes: json.nodes, connections: json.connections }) as IWorkflowBase);
  let finished!: (run: IRun) => void;
  const done = new Promise<IRun>((resolve) => (finished = resolve));
  hooks.addHandler('workflowExecuteAfter', (run) => finished(run));
  const additionalData = additionalDataFor(hooks, options);
  const start = workflow.getNode(startNode);
  if (!start) throw new Error(`No node named ${startNode}`);
  const runExecutionData = createRunExecutionData({
    executionData: { nodeExecutionStack: [{ node: start, data: { main: [input] }, source: null }] },
  });
  await new WorkflowExecute(additionalData, mode, runExecutionData).processRunExecutionData(workflow);
  const run = await done;
  const runData = run.data.resultData.runData;
  return {
    run,
    output: (nodeName) => {
      const task = runData[nodeName]?.[0];
      if (!task) throw new Error(`${nodeName} did not run; ran: ${Object.keys(runData).join(', ')}`);
      if (task.error) throw new Error(`${nodeName} failed: ${task.error.message}`);
      return task.data?.main[0] ?? [];
    },
    error: (nodeName) =>
      (nodeName ? runData[nodeName]?.[0]?.error : run.data.resultData.error) as ReturnType<RunResult['error']>,
  };
}

export interface Delivery {
  /** The raw body as sent on the wire (a string is sent as is; anything else as JSON). */
  body: unknown;
  headers?: Record<string, string>;
  query?: IDataObject;
  /** The HTTP method; GET goes to the trigger's `setup` webhook (providers' handshakes), as n8n routes it. */
  method?: 'GET' | 'POST';
  /** Defaults to application/json. */
  contentType?: string;
}

export interface WebhookCall {
  result: IWebhookResponseData;
  /** What the node wrote itself with the response object (refusals). */
  sent: { status?: number; body?: unknown; contentType?: string; headers?: Record<string, string> };
  /** The workflow's trigger items, when it starts the workflow. */
  items: INodeExecutionData[];
}

/**
 * Calls a trigger's real webhook() exactly as n8n's WebhookService does: a WebhookContext over
 * additionalData.httpRequest / httpResponse, with the raw body bytes n8n's body parser keeps.
 */
export async function callWebhook(workflow: Workflow, nodeName: string, delivery: Delivery, options: HarnessOptions = {}): Promise<WebhookCall> {
  const node = workflow.getNode(nodeName) as INode;
  const nodeType = workflow.nodeTypes.getByNameAndVersion(node.type, node.typeVersion);
  const raw = typeof delivery.body === 'string' ? delivery.body : JSON.stringify(delivery.body);
  let parsed: unknown = {};
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = {};
  }
  const method = delivery.method ?? 'POST';
  const headers: Record<string, string> = method === 'GET' ? {} : { 'content-type': delivery.contentType ?? 'application/json' };
  for (const [name, value] of Object.entries(delivery.headers ?? {})) headers[name.toLowerCase()] = value;
  const sent: WebhookCall['sent'] = {};
  const response = {
    status(code: number) {
      sent.status = code;
      return response;
    },
    type(contentType: string) {
      sent.contentType = contentType;
      return response;
    },
    set(fields: Record<string, string>) {
      if (Object.keys(fields).length) sent.headers = { ...sent.headers, ...fields };
      return response;
    },
    json(body: unknown) {
      sent.body = body;
      sent.contentType ??= 'application/json';
      return response;
    },
    send(body: unknown) {
      // What a client reads: a JSON body is decoded, anything else (a challenge echo, TwiML) stays text.
      sent.body = typeof body === 'string' && sent.contentType?.startsWith('application/json') ? JSON.parse(body) : body;
      return response;
    },
    end() {
      return response;
    },
  };
  if (delivery.contentType?.startsWith('application/x-www-form-urlencoded')) parsed = Object.fromEntries(new URLSearchParams(raw));
  const additionalData = additionalDataFor(undefined, options);
  const query = delivery.query ?? {};
  const search = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString();
  const path = `/webhook/${node.webhookId ?? 'test'}/webhook${search ? `?${search}` : ''}`;
  additionalData.httpRequest = {
    method,
    url: path,
    originalUrl: path,
    headers,
    query,
    params: {},
    body: parsed,
    rawBody: Buffer.from(raw, 'utf8'),
  } as unknown as Request;
  additionalData.httpResponse = response as unknown as Response;
  const webhookDescription = nodeType.description.webhooks!.find((w) => w.httpMethod === method);
  if (!webhookDescription) throw new Error(`${node.type} has no ${method} webhook`);
  const webhookData = {
    httpMethod: method,
    node: nodeName,
    path: 'webhook',
    workflowId: workflow.id,
    webhookDescription,
    workflowExecuteAdditionalData: additionalData,
  } as IWebhookData;
  const context = new WebhookContext(workflow, node, additionalData, 'webhook', webhookData, [], null);
  const result = await nodeType.webhook!.call(context);
  return { result, sent, items: result.workflowData?.[0] ?? [] };
}

/**
 * Hosts a node's real webhook() on real HTTP requests (for a browser), as n8n's WebhookService calls it: a
 * WebhookContext over the express request (with req.rawBody, as n8n's raw body reader keeps it) and response.
 * For nodes that write the response themselves and return noWebhookResponse, such as the Omnithread Desk.
 */
export function webhookHandler(workflow: Workflow, nodeName: string, options: HarnessOptions = {}): (req: Request, res: Response) => Promise<void> {
  const node = workflow.getNode(nodeName) as INode;
  const nodeType = workflow.nodeTypes.getByNameAndVersion(node.type, node.typeVersion);
  return async (req, res) => {
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const webhookDescription = nodeType.description.webhooks?.find((w) => w.httpMethod === method);
    if (!webhookDescription) {
      res.status(405).end();
      return;
    }
    const additionalData = additionalDataFor(undefined, options);
    additionalData.httpRequest = req;
    additionalData.httpResponse = res;
    const webhookData = { httpMethod: method, node: nodeName, path: 'webhook', workflowId: workflow.id, webhookDescription, workflowExecuteAdditionalData: additionalData } as IWebhookData;
    const context = new WebhookContext(workflow, node, additionalData, 'webhook', webhookData, [], null);
    const result = await nodeType.webhook!.call(context);
    if (!result.noWebhookResponse && !res.headersSent) res.status(200).json(result.webhookResponse ?? {});
  };
}

/**
 * Runs one of a trigger's webhookMethods (checkExists / create / delete) in n8n-core's real HookContext,
 * as n8n does when it activates (or, on a test run, listens for) and deactivates a workflow.
 */
export async function callHookMethod(
  workflow: Workflow,
  nodeName: string,
  method: 'checkExists' | 'create' | 'delete',
  options: HarnessOptions & { isTest?: boolean; webhookName?: string } = {},
): Promise<boolean | undefined> {
  const node = workflow.getNode(nodeName) as INode;
  const nodeType = workflow.nodeTypes.getByNameAndVersion(node.type, node.typeVersion);
  const webhookName = options.webhookName ?? 'default';
  const webhookDescription = nodeType.description.webhooks!.find((w) => w.name === webhookName)!;
  const additionalData = additionalDataFor(undefined, options);
  const webhookData = {
    httpMethod: webhookDescription.httpMethod,
    node: nodeName,
    path: 'webhook',
    workflowId: workflow.id,
    webhookDescription,
    workflowExecuteAdditionalData: additionalData,
    isTest: options.isTest,
  } as IWebhookData;
  const methods = nodeType.webhookMethods as Record<string, Record<string, (this: HookContext) => Promise<boolean>> | undefined> | undefined;
  const fn = methods?.[webhookName]?.[method];
  if (!fn) return undefined;
  const context = new HookContext(workflow, node, additionalData, options.isTest ? 'manual' : 'trigger', options.isTest ? 'manual' : 'activate', webhookData);
  return await fn.call(context);
}

export interface PollCall {
  /** What poll() returned: the items of one run, or null when there was nothing new. */
  items: INodeExecutionData[] | null;
  /** What the node logged with this.logger.warn during the poll. */
  warnings: string[];
}

/**
 * Calls a polling trigger's real poll() in n8n-core's PollContext, as n8n's poll executor does on each
 * tick of an active workflow ('trigger'/'activate'), or on "Fetch Test Event" ('manual'/'manual').
 */
export async function callPoll(workflow: Workflow, nodeName: string, options: HarnessOptions & { mode?: 'trigger' | 'manual' } = {}): Promise<PollCall> {
  const node = workflow.getNode(nodeName) as INode;
  const nodeType = workflow.nodeTypes.getByNameAndVersion(node.type, node.typeVersion);
  if (!nodeType.poll) throw new Error(`${node.type} is not a polling trigger`);
  const mode = options.mode ?? 'trigger';
  const context = new PollContext(workflow, node, additionalDataFor(undefined, options), mode, mode === 'manual' ? 'manual' : 'activate');
  const warnings: string[] = [];
  const spy = jest.spyOn(context.logger, 'warn').mockImplementation((message: string) => void warnings.push(message));
  try {
    const result = await nodeType.poll.call(context);
    return { items: result === null ? null : (result[0] ?? []), warnings };
  } finally {
    spy.mockRestore();
  }
}

/** Runs the credential test a node declares for `credentialType` (testedBy), as n8n's credentials tester does. */
export async function testNodeCredential(nodeType: INodeType, credentialType: string, data: ICredentialDataDecryptedObject): Promise<INodeCredentialTestResult> {
  const method = nodeType.description.credentials?.find((c) => c.name === credentialType)?.testedBy;
  if (typeof method !== 'string') throw new Error(`${nodeType.description.name} does not test ${credentialType}`);
  const test = nodeType.methods?.credentialTest?.[method];
  if (!test) throw new Error(`${nodeType.description.name} has no credentialTest.${method}`);
  return test.call(mock<ICredentialTestFunctions>(), { id: 'test', name: credentialType, type: credentialType, data });
}

/** Runs a node type's credential test method, as n8n's credentials tester does. */
export async function testCredential(data: ICredentialDataDecryptedObject, nodeType: INodeType = nodeTypeInstances.identity): Promise<INodeCredentialTestResult> {
  const description = nodeType.description.credentials?.find((c) => c.name === CREDENTIAL);
  const method = description?.testedBy;
  if (typeof method !== 'string') throw new Error(`${nodeType.description.name} does not test ${CREDENTIAL}`);
  const test = nodeType.methods?.credentialTest?.[method];
  if (!test) throw new Error(`${nodeType.description.name} has no credentialTest.${method}`);
  const credential: ICredentialsDecrypted = { id: 'test', name: 'Omnithread Store', type: CREDENTIAL, data };
  return test.call(mock<ICredentialTestFunctions>(), credential);
}

/** A node of the workflow under test. */
export function node(name: string, type: string, parameters: INode['parameters'] = {}, extra: Partial<INode> = {}): INode {
  return { id: name, name, type, typeVersion: 1, position: [0, 0], parameters, ...extra };
}

/** Connections for a straight line of nodes. */
export function chain(...names: string[]): IWorkflowBase['connections'] {
  const connections: IWorkflowBase['connections'] = {};
  for (let i = 0; i + 1 < names.length; i++) {
    connections[names[i]] = { main: [[{ node: names[i + 1], type: NodeConnectionTypes.Main, index: 0 }]] };
  }
  return connections;
}

/** Closes the stores the nodes opened and removes the n8n user folder; call once per test file. */
export function cleanupAfterAll(): void {
  afterAll(async () => {
    await closeAllStores();
    rmSync(n8nUserFolder, { recursive: true, force: true });
  });
}

export { startSmtpCapture } from './smtp-capture';
export type { SmtpCapture } from './smtp-capture';
