/**
 * A stand-in for a provider's API on this machine (WhatsApp Cloud API, Telegram Bot API, Twilio...): it
 * records every request and answers what the test says, so a channel's `send` is checked against the
 * call as the provider documents it (path, auth, body) and against its error answers.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProviderRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** The body as sent. */
  raw: string;
  /** The body parsed as JSON when it is JSON, else the raw text; undefined when empty. */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface ProviderAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  /** Answer this late (a provider that takes the message and answers after the client gave up). */
  delayMs?: number;
  /** Cut the connection instead of answering (after delayMs). */
  hangUp?: boolean;
}

export interface ProviderServer {
  /** http://127.0.0.1:<port>, for the channel's apiBaseUrl. */
  base: string;
  seen: ProviderRequest[];
  close(): Promise<void>;
}

export async function startProvider(answer: (request: ProviderRequest) => ProviderAnswer | Promise<ProviderAnswer>): Promise<ProviderServer> {
  const seen: ProviderRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown = raw || undefined;
      try {
        if (raw) body = JSON.parse(raw);
      } catch {
        // not JSON (a form body): kept as text
      }
      const request: ProviderRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, raw, body };
      seen.push(request);
      const reply = await answer(request);
      if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
      if (reply.hangUp) return void req.socket.destroy();
      if (res.destroyed) return;
      res.writeHead(reply.status, { 'content-type': 'application/json', ...(reply.headers ?? {}) });
      res.end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
