/**
 * omnithread-desk: serves the Omnithread Desk (the agents' page and its JSON API, shared/desk/) on one
 * RED.httpNode path of the flow's store. This node reads the request's raw body, hands it to the Desk and
 * writes back what it answers; sign-in, roles, CSRF and every action are the Desk's.
 */
import type { Request, Response } from 'express';
import { createDesk } from '../../shared';
import type { DeskHttpResponse } from '../../shared';
import { byteLimit, captureRawBody, httpNodeMiddleware, readRawBody, removeRoute, replyAccountsOf, routePath, useStore } from './common';
import type { NodeDef, RedApi, RedNode } from './common';

interface DeskDef extends NodeDef {
  store?: string;
  path?: string;
  title?: string;
  slaMinutes?: string | number;
  adminAgentId?: string;
  [account: string]: unknown;
}

function send(res: Response, answer: DeskHttpResponse): void {
  if (res.headersSent) return;
  res.status(answer.status).set(answer.headers).send(answer.body);
}

export = function register(RED: RedApi): void {
  function OmnithreadDesk(this: RedNode, def: DeskDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const path = routePath(def.path, '/omnithread/desk');
    if (RED.settings.httpNodeRoot === false) {
      node.warn('HTTP endpoints are disabled in this Node-RED (httpNodeRoot: false): omnithread-desk cannot serve the desk');
      node.status({ fill: 'red', shape: 'ring', text: 'http disabled' });
      return;
    }
    const omnithread = useStore(RED, node, def.store, { fill: 'green', shape: 'dot', text: path });
    const adminPassword = node.credentials?.adminPassword;
    let accounts: Record<string, unknown> = {};
    try {
      accounts = replyAccountsOf(RED, def);
    } catch (error) {
      node.error(`omnithread-desk: ${(error as Error).message}`);
    }
    const sla = Number(def.slaMinutes);
    const desk = createDesk({
      omnithread: () => omnithread,
      reply: { channels: accounts },
      title: def.title || 'Omnithread Desk',
      ...(Number.isFinite(sla) && sla > 0 ? { slaMinutes: sla } : {}),
      ...(def.adminAgentId && adminPassword ? { admin: { agentId: def.adminAgentId, password: adminPassword } } : {}),
    });
    if (def.adminAgentId && !adminPassword) node.warn('omnithread-desk: an admin agent is set without a password; nobody can sign in until an admin gives access');
    const limit = Math.min(byteLimit(RED.settings.apiMaxLength), 1024 * 1024);
    // The body is read by us, whatever body parsers the Node-RED settings add in front of httpNode.
    const stopCapture = captureRawBody(RED, path);

    const route = (req: Request, res: Response): void => {
      (async () => {
        const body = req.method === 'POST' ? await readRawBody(req, limit) : undefined;
        const answer = await desk.handle({
          method: req.method,
          url: `${req.protocol}://${req.get('host') ?? 'localhost'}${req.originalUrl}`,
          headers: req.headers,
          body,
          ip: req.ip,
        });
        send(res, answer);
      })().catch((error: Error & { status?: number }) => {
        if (!error.status) node.error(`omnithread-desk ${path}: ${error.message}`);
        send(res, { status: error.status ?? 500, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ error: error.message, code: 'INTERNAL' }) });
      });
    };
    RED.httpNode.get(path, ...httpNodeMiddleware(RED), route);
    RED.httpNode.post(path, ...httpNodeMiddleware(RED), route);

    node.on('close', (removed, done) => {
      stopCapture(removed === true);
      removeRoute(RED.httpNode, path, 'get');
      removeRoute(RED.httpNode, path, 'post');
      done();
    });
  }

  RED.nodes.registerType('omnithread-desk', OmnithreadDesk, { credentials: { adminPassword: { type: 'password' } } });
};
