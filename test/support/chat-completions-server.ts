/**
 * A local stand-in for an OpenAI-compatible chat-completions API, enforcing the contract as the OpenAI API
 * reference documents it (https://platform.openai.com/docs/api-reference/chat/create):
 * - `POST {base}/chat/completions` (base `/v1` by default, like https://api.openai.com/v1 or Ollama's
 *   http://localhost:11434/v1); any other path is 404, any other method 405;
 * - `Authorization: Bearer <key>`: missing or wrong is 401 with OpenAI's error object
 *   `{ error: { message, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }`;
 * - a JSON body with `model` (non-empty string) and `messages` (non-empty array of { role, content });
 *   `response_format` { type: 'text' | 'json_object' | 'json_schema' }, and with `json_object` the word
 *   "json" must appear in the messages (OpenAI refuses otherwise); `temperature` 0..2. Else 400.
 * It records every request and answers each valid call with the next scripted behaviour.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ChatBehaviour =
  /** A valid completion whose content is this object as JSON. */
  | { kind: 'json'; answer: unknown }
  /** A valid completion whose content is this text as is (malformed JSON, prose...). */
  | { kind: 'content'; content: string }
  /** A valid completion whose content is the object in a ```json fence. */
  | { kind: 'fenced'; answer: unknown }
  /** An HTTP error with OpenAI's error object. */
  | { kind: 'status'; status: number; message?: string; headers?: Record<string, string> }
  /** Waits, then behaves as `then` (default: a valid default answer). */
  | { kind: 'delay'; ms: number; then?: ChatBehaviour };

export interface ChatRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** The status this server answered (or will answer, for a delayed one). */
  status?: number;
}

export interface ChatCompletionsServer {
  /** e.g. http://127.0.0.1:1234/v1: the `baseUrl` to hand the client. */
  baseUrl: string;
  /** Every request, valid or not. */
  seen: ChatRequest[];
  /** Queue behaviours for the next valid calls; when empty, `fallbackBehaviour` answers. */
  script(...behaviours: ChatBehaviour[]): void;
  close(): Promise<void>;
}

const openAiError = (message: string, type: string, param: string | null, code: string | null) => ({ error: { message, type, param, code } });

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

function contractError(body: unknown): { status: number; body: unknown } | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return { status: 400, body: openAiError('We could not parse the JSON body of your request.', 'invalid_request_error', null, null) };
  }
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || !b.model) {
    return { status: 400, body: openAiError('you must provide a model parameter', 'invalid_request_error', 'model', null) };
  }
  if (!Array.isArray(b.messages) || b.messages.length === 0) {
    return { status: 400, body: openAiError("Missing required parameter: 'messages'.", 'invalid_request_error', 'messages', 'missing_required_parameter') };
  }
  for (const [i, m] of (b.messages as unknown[]).entries()) {
    const message = m as { role?: unknown; content?: unknown };
    if (!message || typeof message !== 'object' || typeof message.role !== 'string' || !ROLES.has(message.role)) {
      return { status: 400, body: openAiError(`Invalid value for 'messages[${i}].role'.`, 'invalid_request_error', `messages[${i}].role`, 'invalid_value') };
    }
    if (typeof message.content !== 'string' && !Array.isArray(message.content)) {
      return { status: 400, body: openAiError(`Invalid type for 'messages[${i}].content'.`, 'invalid_request_error', `messages[${i}].content`, 'invalid_type') };
    }
  }
  if (b.temperature !== undefined && (typeof b.temperature !== 'number' || b.temperature < 0 || b.temperature > 2)) {
    return { status: 400, body: openAiError("Invalid 'temperature': must be between 0 and 2.", 'invalid_request_error', 'temperature', 'invalid_value') };
  }
  if (b.response_format !== undefined) {
    const type = (b.response_format as { type?: unknown })?.type;
    if (!['text', 'json_object', 'json_schema'].includes(type as string)) {
      return { status: 400, body: openAiError("Invalid value for 'response_format.type'.", 'invalid_request_error', 'response_format.type', 'invalid_value') };
    }
    if (type === 'json_object' && !/json/i.test(JSON.stringify(b.messages))) {
      return {
        status: 400,
        body: openAiError("'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.", 'invalid_request_error', 'messages', null),
      };
    }
  }
  return undefined;
}

function completion(model: string, content: string) {
  return {
    id: `chatcmpl-${Math.random().toString(36).slice(2, 12)}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: 50, completion_tokens: 20, total_tokens: 70 },
  };
}

export async function startChatCompletions(
  options: { apiKey?: string; base?: string; fallbackBehaviour?: ChatBehaviour } = {},
): Promise<ChatCompletionsServer> {
  const apiKey = options.apiKey ?? 'sk-test-key';
  const base = (options.base ?? '/v1').replace(/\/+$/, '');
  const fallbackBehaviour: ChatBehaviour = options.fallbackBehaviour ?? {
    kind: 'json',
    answer: { intent: 'other', language: 'en', sentiment: 'neutral', urgency: 'normal', confidence: 0.5, wantsHuman: false },
  };
  const queue: ChatBehaviour[] = [];
  const seen: ChatRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const send = (res: ServerResponse, request: ChatRequest, status: number, body: unknown, headers: Record<string, string> = {}) => {
    request.status = status;
    if (res.destroyed || res.writableEnded) return; // the client gave up (a timeout)
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  const behave = (res: ServerResponse, request: ChatRequest, behaviour: ChatBehaviour) => {
    const model = String(request.body.model);
    switch (behaviour.kind) {
      case 'json':
        return send(res, request, 200, completion(model, JSON.stringify(behaviour.answer)));
      case 'content':
        return send(res, request, 200, completion(model, behaviour.content));
      case 'fenced':
        return send(res, request, 200, completion(model, `Here is the classification:\n\`\`\`json\n${JSON.stringify(behaviour.answer, null, 2)}\n\`\`\``));
      case 'status': {
        const type = behaviour.status === 429 ? 'requests' : behaviour.status >= 500 ? 'server_error' : 'invalid_request_error';
        const message = behaviour.message ?? (behaviour.status === 429 ? 'Rate limit reached for requests' : 'The server had an error while processing your request.');
        return send(res, request, behaviour.status, openAiError(message, type, null, behaviour.status === 429 ? 'rate_limit_exceeded' : null), behaviour.headers);
      }
      case 'delay': {
        const timer = setTimeout(() => {
          timers.delete(timer);
          behave(res, request, behaviour.then ?? fallbackBehaviour);
        }, behaviour.ms);
        timers.add(timer);
        return;
      }
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      const request: ChatRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, raw, body };
      seen.push(request);
      const path = (req.url ?? '').split('?')[0];
      if (path !== `${base}/chat/completions`) {
        return send(res, request, 404, openAiError(`Invalid URL (${req.method} ${path})`, 'invalid_request_error', null, null));
      }
      if (req.method !== 'POST') return send(res, request, 405, openAiError(`Invalid method (${req.method})`, 'invalid_request_error', null, null));
      const auth = req.headers.authorization ?? '';
      if (!auth.startsWith('Bearer ') || auth.slice(7) !== apiKey) {
        const given = auth.startsWith('Bearer ') ? auth.slice(7) : '';
        const message = given
          ? `Incorrect API key provided: ${given.slice(0, 3)}***${given.slice(-4)}. You can find your API key at https://platform.openai.com/account/api-keys.`
          : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
        return send(res, request, 401, openAiError(message, 'invalid_request_error', null, given ? 'invalid_api_key' : null));
      }
      const invalid = contractError(body);
      if (invalid) return send(res, request, invalid.status, invalid.body);
      behave(res, request, queue.shift() ?? fallbackBehaviour);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}${base}`,
    seen,
    script: (...behaviours) => void queue.push(...behaviours),
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        queue.length = 0;
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
