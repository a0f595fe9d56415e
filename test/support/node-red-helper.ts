/**
 * Runs our Node-RED nodes inside Node-RED 5 through node-red-node-test-helper. The helper's own
 * helper.request() only reaches the admin app, so the init wrapper captures RED.httpNode and tests drive
 * webhook routes with supertest on it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import type { Express } from 'express';
import { closeAllStores } from '../../shared';
import storeNode = require('../../nodes/node-red/omnithread-store');
import deskNode = require('../../nodes/node-red/omnithread-desk');
import inNode = require('../../nodes/node-red/omnithread-in');
import emailInNode = require('../../nodes/node-red/omnithread-email-in');
import identityNode = require('../../nodes/node-red/omnithread-identity');
import timelineNode = require('../../nodes/node-red/omnithread-timeline');
import channelNode = require('../../nodes/node-red/omnithread-channel');
import replyNode = require('../../nodes/node-red/omnithread-reply');
import llmNode = require('../../nodes/node-red/omnithread-llm');
import routeNode = require('../../nodes/node-red/omnithread-route');
import handoffNode = require('../../nodes/node-red/omnithread-handoff');

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const helper = require('node-red-node-test-helper') as NodeRedTestHelper;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const httpIn = require('@node-red/nodes/core/network/21-httpin.js') as InitFn;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const change = require('@node-red/nodes/core/function/15-change.js') as InitFn;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const functionNode = require('@node-red/nodes/core/function/10-function.js') as InitFn;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const comment = require('@node-red/nodes/core/common/90-comment.js') as InitFn;

helper.init(require.resolve('node-red'));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type InitFn = (RED: any) => unknown;
export type FlowNode = Record<string, unknown> & { id: string; type: string };

export interface TestNode {
  id: string;
  on(event: string, handler: (arg: any) => void): void; // eslint-disable-line @typescript-eslint/no-explicit-any
  receive(msg: Record<string, unknown>): void;
  status: { args: unknown[][]; lastCall?: { args: unknown[] } } & ((...args: unknown[]) => void);
  warn: { args: unknown[][] };
  error: { args: unknown[][] };
}

interface NodeRedTestHelper {
  init(path: string, settings?: Record<string, unknown>): void;
  settings(settings: Record<string, unknown>): Record<string, unknown>;
  load(nodes: InitFn | InitFn[], flow: FlowNode[], credentials?: Record<string, Record<string, string>>): Promise<void>;
  unload(): Promise<void>;
  getNode(id: string): TestNode;
}

/** Every node type a test may need: ours, and the core nodes our flows use (http response, change, function, comment). */
export const NODES: InitFn[] = [storeNode, inNode, emailInNode, identityNode, timelineNode, channelNode, replyNode, llmNode, routeNode, handoffNode, deskNode, httpIn, change, functionNode, comment];

let httpNode: Express | undefined;
let mountBehindParser = false;
const captureHttpNode: InitFn = (RED: { httpNode: Express }) => {
  httpNode = RED.httpNode;
  if (mountBehindParser) {
    // What a standard Node-RED does: the editor API, which JSON-parses every request, is mounted at "/"
    // in front of RED.httpNode. Mounted before the flows start, as there.
    const root = express();
    root.use(express.json(), express.urlencoded({ extended: true }));
    root.use('/', RED.httpNode);
    httpNode = root;
  }
};

/**
 * Loads a flow into the helper and returns the app its routes live on: RED.httpNode itself, or (with
 * behindBodyParser) a root app that parses bodies before RED.httpNode sees them.
 */
export async function loadFlow(flow: FlowNode[], credentials: Record<string, Record<string, string>> = {}, options: { behindBodyParser?: boolean } = {}): Promise<Express> {
  mountBehindParser = Boolean(options.behindBodyParser);
  httpNode = undefined;
  await helper.load([captureHttpNode, ...NODES], flow, credentials);
  if (!httpNode) throw new Error('RED.httpNode was not captured');
  return httpNode;
}

/** Stops the flows and closes every store they opened, so jest can exit. */
export async function unloadFlow(): Promise<void> {
  await helper.unload();
  await closeAllStores();
}

/** In a suite: a temporary folder per test (for the store file), the flow unloaded and the folder removed after each. */
export function useFlowDir(): () => string {
  let dir: { dir: string; cleanup: () => void } | undefined;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    await unloadFlow();
    dir?.cleanup();
  });
  return () => dir!.dir;
}

/** A temporary folder used as the Node-RED user directory and for SQLite files; removed by cleanup(). */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'omnithread-node-red-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The messages a helper node receives, with a way to wait for the nth. */
export function collect(id: string): { messages: Record<string, any>[]; next: (count?: number, timeoutMs?: number) => Promise<Record<string, any>[]> } { // eslint-disable-line @typescript-eslint/no-explicit-any
  const messages: Record<string, any>[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  const waiters: (() => void)[] = [];
  helper.getNode(id).on('input', (msg) => {
    messages.push(msg);
    waiters.splice(0).forEach((w) => w());
  });
  const next = (count = 1, timeoutMs = 5000) =>
    new Promise<Record<string, any>[]>((resolve, reject) => { // eslint-disable-line @typescript-eslint/no-explicit-any
      const timer = setTimeout(() => reject(new Error(`expected ${count} message(s) at ${id}, got ${messages.length}`)), timeoutMs);
      const check = () => {
        if (messages.length >= count) {
          clearTimeout(timer);
          resolve(messages);
        } else waiters.push(check);
      };
      check();
    });
  return { messages, next };
}

/** Resolves once a node's status has been set to something matching. */
export function waitForStatus(node: TestNode, match: Record<string, unknown>, timeoutMs = 5000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const matches = (s: unknown) => s && typeof s === 'object' && Object.entries(match).every(([k, v]) => (s as Record<string, unknown>)[k] === v);
    const seen = node.status.args.map((a) => a[0]).find(matches);
    if (seen) return resolve(seen as Record<string, unknown>);
    const timer = setTimeout(() => reject(new Error(`status ${JSON.stringify(match)} not set; saw ${JSON.stringify(node.status.args.map((a) => a[0]))}`)), timeoutMs);
    node.on('call:status', (call: { args: unknown[] }) => {
      if (matches(call.args[0])) {
        clearTimeout(timer);
        resolve(call.args[0] as Record<string, unknown>);
      }
    });
  });
}
