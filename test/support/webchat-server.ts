/**
 * A tiny web chat server for the browser test, made of shared/ code only: it stands in for the engine
 * adapters (n8n, Node-RED), which serve the same routes.
 *
 *   GET  /               the demo page (loads the widget from /widget.js)
 *   GET  /widget.js      widgetScript(...)
 *   POST /chat           handleWebhook(ot, webchatChannel, config, request), answered with renderReply
 *   GET  /chat/replies   webchatReplies(ot, { siteId, visitorId, after }): the widget's poll feed
 */
import { createServer, IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Omnithread, WebhookRequest } from '../../shared';
import { handleWebhook, renderReply } from '../../shared';
import { WebchatConfig, WidgetOptions, demoPage, webchatChannel, webchatReplies, widgetScript } from '../../shared/channels/webchat';
import { isOmnithreadError } from '../../shared/errors';

export interface WebchatServer {
  url: string;
  server: Server;
  /** Every POST /chat answer, in order (status and parsed body). */
  posts: { status: number; body: Record<string, unknown> }[];
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 1_000_000) req.destroy(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startWebchatServer(ot: Omnithread, config: WebchatConfig, widget: Partial<WidgetOptions> = {}): Promise<WebchatServer> {
  const options: WidgetOptions = { endpoint: '/chat', repliesUrl: '/chat/replies', siteId: config.siteId, pollSeconds: 1, ...widget };
  const posts: WebchatServer['posts'] = [];
  const server = createServer((req, res) => {
    const send = (status: number, contentType: string, body: string) => {
      res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
      res.end(body);
    };
    const json = (status: number, body: unknown) => send(status, 'application/json; charset=utf-8', JSON.stringify(body));
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (req.method === 'GET' && url.pathname === '/') return send(200, 'text/html; charset=utf-8', demoPage({ ...options, scriptUrl: '/widget.js' }));
      if (req.method === 'GET' && url.pathname === '/widget.js') return send(200, 'text/javascript; charset=utf-8', widgetScript(options));
      if (url.pathname === '/chat') {
        const request: WebhookRequest = {
          method: req.method ?? 'GET',
          headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), v])),
          query: Object.fromEntries(url.searchParams),
          rawBody: await readBody(req),
          url: `http://${req.headers.host}${req.url}`,
        };
        const outcome = await handleWebhook(ot, webchatChannel, config, request);
        const wire = renderReply(outcome.reply);
        posts.push({ status: wire.status, body: JSON.parse(wire.body) as Record<string, unknown> });
        return send(wire.status, wire.contentType, wire.body);
      }
      if (req.method === 'GET' && url.pathname === '/chat/replies') {
        try {
          const feed = await webchatReplies(ot, {
            siteId: url.searchParams.get('siteId') ?? undefined,
            visitorId: url.searchParams.get('visitorId') ?? '',
            after: url.searchParams.get('after'),
          });
          return json(200, feed);
        } catch (error) {
          if (isOmnithreadError(error, 'INVALID_INPUT')) return json(400, { error: error.message, field: error.field });
          throw error;
        }
      }
      return json(404, { error: 'not found' });
    })().catch((error: unknown) => {
      if (!res.headersSent) json(500, { error: (error as Error).message });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    posts,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
