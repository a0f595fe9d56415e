/**
 * omnithread-in: a webhook for one channel on RED.httpNode. shared/webhook.ts does the work (signature,
 * parsing, recording, redeliveries); this node reads the raw body, replies, and emits one msg per newly
 * recorded message.
 */
import type { Request, Response } from 'express';
import { CHANNELS, channelById, channelConfig, failureReply, handleWebhook, renderReply } from '../../shared';
import type { ChannelModule, WebhookOutcome, WebhookReply, WebhookRequest } from '../../shared';
import { byteLimit, captureRawBody, httpNodeMiddleware, readRawBody, removeRoute, routePath, triggerMessage, useStore } from './common';
import type { NodeDef, RedApi, RedNode } from './common';

interface InDef extends NodeDef {
  store?: string;
  path?: string;
  channel?: string;
  respond?: 'ack' | 'flow';
  [setting: string]: unknown;
}

/** A node without a path listens on /omnithread/<channel>, as the editor suggests. */
const defaultPath = (channel: unknown): string => `/omnithread/${typeof channel === 'string' && /^[a-z0-9_-]+$/.test(channel) ? channel : 'generic'}`;

/** Every secret any channel takes: declared once for the runtime, filled in per channel in the editor. */
const CREDENTIALS = Object.fromEntries(Object.values(CHANNELS).flatMap((c) => c.secrets.map((name) => [name, { type: 'password' as const }])));

/** Paths in use per HTTP app, so two nodes on one path say so instead of shadowing each other. */
const pathsInUse = new WeakMap<object, Map<string, string>>();

/** The chosen channel's settings only: its secrets from the node's credentials, the others from its properties. */
function settingsFor(def: InDef, credentials: Record<string, string | undefined>, channel: ChannelModule<unknown>): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  for (const key of channel.settings) {
    const value = channel.secrets.includes(key) ? credentials[key] : def[key];
    if (value !== undefined && value !== null && value !== '') settings[key] = value;
  }
  return settings;
}

function reply(res: Response, answer: WebhookReply): void {
  if (res.headersSent) return;
  const wire = renderReply(answer);
  res.status(wire.status).set(wire.headers).type(wire.contentType).send(wire.body);
}


export = function register(RED: RedApi): void {
  function OmnithreadIn(this: RedNode, def: InDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const path = routePath(def.path, defaultPath(def.channel));
    const respond = def.respond === 'flow' ? 'flow' : 'ack';
    if (RED.settings.httpNodeRoot === false) {
      node.warn('HTTP endpoints are disabled in this Node-RED (httpNodeRoot: false): omnithread-in cannot receive webhooks');
      node.status({ fill: 'red', shape: 'ring', text: 'http disabled' });
      return;
    }
    const channel = channelById(def.channel || 'generic');
    let config: unknown;
    let configError: string | undefined;
    try {
      if (!channel) throw new Error(`Unknown channel "${def.channel}": choose one of ${Object.keys(CHANNELS).join(', ')}`);
      config = channelConfig(channel, settingsFor(def, node.credentials ?? {}, channel));
    } catch (error) {
      configError = (error as Error).message;
      node.error(`omnithread-in ${path}: ${configError}`);
    }
    const omnithread = useStore(RED, node, def.store, configError ? { fill: 'red', shape: 'ring', text: 'bad settings' } : undefined);

    const app = RED.httpNode;
    const inUse = pathsInUse.get(app) ?? new Map<string, string>();
    pathsInUse.set(app, inUse);
    if (inUse.has(path)) {
      node.error(`omnithread-in: the path ${path} is already used by node ${inUse.get(path)}; give this node another path`);
      node.status({ fill: 'red', shape: 'ring', text: 'path in use' });
      return;
    }
    inUse.set(path, node.id);
    const stopCapture = captureRawBody(RED, path);
    const limit = byteLimit(RED.settings.apiMaxLength);

    const refuse = (status: number, body: unknown, res: Response, why: string, request?: WebhookRequest, headers?: Record<string, string>) => {
      reply(res, { status, body, ...(headers ? { headers } : {}) });
      const text =
        status === 401 || status === 403 ? 'bad signature' : status === 400 ? 'invalid' : status === 413 ? 'too large' : configError ? 'bad settings' : status === 503 ? 'store error' : 'error';
      node.status({ fill: 'red', shape: 'ring', text });
      const report = `omnithread-in ${path}: ${status} ${why}`;
      // A bad signature is usually a stranger (or a wrong secret): logged, not sent into the flow.
      // A malformed delivery or a store failure is something the flow's owner must act on: Catch nodes get it.
      if (status === 401 || status === 403) node.warn(report);
      else node.error(report, { payload: body, statusCode: status, headers: request?.headers });
    };

    const handler = async (req: Request, res: Response): Promise<void> => {
      let rawBody: Buffer;
      try {
        rawBody = await readRawBody(req, limit);
      } catch (error) {
        const e = error as Error & { status?: number };
        // Past the size limit: a JSON 413 (the rest of the upload is read and discarded, see readStream).
        refuse(e.status ?? 400, { error: e.message }, res, e.message);
        return;
      }
      const request: WebhookRequest = {
        method: req.method,
        headers: req.headers,
        query: req.query as Record<string, unknown>,
        rawBody,
        url: `${req.protocol}://${req.get('host') ?? 'localhost'}${req.originalUrl}`,
      };
      if (configError || !channel) {
        // An error of the node's settings, not of the delivery: never a 400 or a 503.
        refuse(500, { error: `Not recorded: this webhook's settings are invalid: ${configError}` }, res, configError ?? 'bad settings', request);
        return;
      }
      let outcome: WebhookOutcome;
      try {
        outcome = await handleWebhook(await omnithread, channel, config, request);
      } catch (error) {
        // 503 (with Retry-After) only when the store is unreachable; an input error is a 400, a bug a 500.
        const failed = failureReply(error);
        refuse(failed.status, failed.body, res, (failed.body as { error: string }).error, request, failed.headers);
        return;
      }
      if (outcome.refused !== undefined) {
        refuse(outcome.reply.status, outcome.reply.body, res, outcome.refused, request, outcome.reply.headers);
        return;
      }
      const recorded = outcome.recorded.length;
      node.status(
        recorded
          ? { fill: 'green', shape: 'dot', text: recorded > 1 ? `recorded ${recorded}` : 'recorded' }
          : outcome.duplicates.length
            ? { fill: 'grey', shape: 'dot', text: 'duplicate' }
            : { fill: 'green', shape: 'ring', text: 'ready' },
      );
      // ack: the provider gets its 200 now. flow: the last message carries msg.res for an http response
      // node; a delivery of redeliveries only (or a handshake) is answered here, since nothing is emitted.
      if (respond === 'ack' || !recorded) reply(res, outcome.reply);
      outcome.recorded.forEach((result, i) => {
        const msg = triggerMessage(RED, result);
        if (respond === 'flow') {
          msg.req = req;
          if (i === recorded - 1) msg.res = { _res: res };
        }
        node.send(msg);
      });
    };

    const route = (req: Request, res: Response) => {
      handler(req, res).catch((error: Error) => {
        node.error(`omnithread-in ${path}: ${error.message}`);
        reply(res, { status: 500, body: { error: error.message } });
      });
    };
    RED.httpNode.post(path, ...httpNodeMiddleware(RED), route);
    // Providers that verify a webhook with a GET handshake (Meta's hub.challenge) get it on the same path,
    // and so do channels that serve content there (the web chat widget, its feed and CORS preflights).
    const gets = Boolean(channel?.challenge || channel?.serve);
    const preflights = Boolean(channel?.serve);
    if (gets) RED.httpNode.get(path, ...httpNodeMiddleware(RED), route);
    if (preflights) RED.httpNode.options(path, route);

    node.on('close', (removed, done) => {
      // The catch-all before our routes answers 503 for this path until the redeployed node takes it again.
      stopCapture(removed === true);
      removeRoute(RED.httpNode, path, 'post');
      if (gets) removeRoute(RED.httpNode, path, 'get');
      if (preflights) removeRoute(RED.httpNode, path, 'options');
      if (inUse.get(path) === node.id) inUse.delete(path);
      done();
    });
  }

  RED.nodes.registerType('omnithread-in', OmnithreadIn, { credentials: CREDENTIALS });

  // The editor builds its Channel list from here, so a channel added to shared/ appears without editing HTML.
  RED.httpAdmin.get('/omnithread/channels', RED.auth.needsPermission('omnithread-in.read'), (_req: Request, res: Response) => {
    res.json(
      Object.values(CHANNELS).map((c) => ({
        id: c.id,
        name: c.displayName,
        description: c.description,
        settings: c.settings,
        secrets: c.secrets,
        // What the editor shows under each setting's row: the module's own description.
        fields: (c.settingFields ?? []).map((f) => ({ name: f.name, displayName: f.displayName, description: f.description })),
      })),
    );
  });
};
