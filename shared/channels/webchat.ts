/**
 * The web chat channel: an embeddable widget on the customer's own site, served by the trigger itself.
 * No provider sits in between: the widget POSTs the visitor's messages to the trigger, and polls for
 * the answers, which the Reply node records on the timeline (`send` only gives them an id).
 *
 * Inbound body (POST, JSON, from the widget):
 *
 *   {
 *     "siteId": "shop",                 optional; when given it must be the node's Site ID
 *     "visitorId": "v-7f3a...",         required: random, kept by the widget in localStorage
 *     "messageId": "m-91c2...",         the idempotency key, made by the widget per message. Optional: without
 *                                       it the server assigns one, so a client that retries a POST must send
 *                                       one (a retry without it is recorded twice)
 *     "text": "Where is my parcel?",    required, not blank
 *     "user": {                         optional: set by a site that knows its user
 *       "email": "maya@fastmail.fm", "accountId": "cust-981", "name": "Maya", "phone": "+44 7911 123456",
 *       "userHash": "<hex HMAC-SHA256(identitySecret, accountId if given, else email)>"
 *     },
 *     "name", "email", "phone"          optional: a pre-chat form's fields (also accepted inside "prechat")
 *     "fields": { "orderNumber": "44719", "plan": "pro" }    optional: custom pre-chat fields, kept on the
 *                                       contact as attributes.webchat (also "customFields" / "attributes")
 *     "page": { "url": "https://shop.example/orders", "title": "My orders" }    optional
 *   }
 * Unknown fields are tolerated (what other widgets send along), listed in metadata.ignoredFields, never a
 * reason to refuse the visitor's message.
 *
 * Identity, as Intercom, Crisp and Chatwoot do it: the site's server computes the user hash with the
 * identity secret it shares with us; the hash covers the account id when one is given (it takes
 * precedence, as Intercom's user_id does), else the email. A matching hash makes that identifier a
 * `verified` handle. Without a hash, with a wrong one, or with no secret configured, the message is
 * still recorded, but the email and account id are only `asserted` (they can raise a merge suggestion,
 * never merge) and the answer says `"identity": "unverified"`. The visitor id itself is a
 * `webchat_visitor` handle scoped to the site, at `channel` trust. When the account id is the hashed
 * identifier, an email sent along with it is not covered by the hash and stays `asserted`.
 * What a visitor types in a pre-chat form (email, phone) is theirs to claim: `asserted` from an anonymous
 * or unverified visitor; in a verified session (a valid user hash) the site vouches for who typed it, so
 * it carries `channel` trust, as a signed-in customer's profile fields do.
 *
 * The 200 answer: { received, recorded, duplicates, identity: 'verified' | 'unverified' | 'anonymous',
 * identityReason?, messageId }.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { OmnithreadError } from '../errors';
import type { HandleInput, MessageInput, TimelineEvent, Trust } from '../model';
import { parseInput } from '../model';
import type { Omnithread } from '../omnithread';
import type { WebhookOutcome } from '../webhook';
import { SyncChannelModule, WebhookReply, WebhookRequest, header } from './channel';
import { parseJsonBody } from './body';
import { safeEqual } from './http';
import { WidgetOptions, demoPage, widgetScript } from './webchat-widget';

export { demoPage, scriptSafeJson, widgetScript } from './webchat-widget';
export type { WidgetOptions } from './webchat-widget';

export const WebchatConfigSchema = z
  .object({
    /** The site this widget runs on: the scope of its visitor ids. */
    siteId: z.string().trim().min(1).max(256).default('default'),
    /** Shared with the site's server, which computes user hashes with it. Empty = nobody can be verified. */
    identitySecret: z.string().default(''),
    /** Comma-separated origins allowed to post (https://shop.example); empty = any. */
    allowedOrigins: z.string().default(''),
    /** The widget's title and first line, as the trigger serves it. */
    widgetTitle: z.string().trim().max(100).default('Chat with us'),
    widgetGreeting: z.string().trim().max(500).default('Hi! How can we help?'),
  })
  .strict();
export type WebchatConfig = z.output<typeof WebchatConfigSchema>;

export const WebchatSendConfigSchema = z.object({}).strict();

const ID = /^[A-Za-z0-9._:-]+$/;
const idString = (what: string) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(128)
    .regex(ID, `must be a ${what} of letters, digits, '.', '_', ':' or '-'`);

const Typed = (max: number) => z.string().trim().max(max).optional();
const PrechatSchema = z.object({ name: Typed(256), email: Typed(512), phone: Typed(64) }).passthrough();
/** Custom pre-chat fields: flat values only, a bounded number of them. */
const FieldsSchema = z
  .record(z.string().max(64), z.union([z.string().max(2000), z.number(), z.boolean(), z.null()]))
  .refine((fields) => Object.keys(fields).length <= 50, 'must have at most 50 fields');

export const WebchatBodySchema = z
  .object({
    siteId: z.string().trim().min(1).max(256).optional(),
    visitorId: idString('visitor id'),
    messageId: idString('message id').optional(),
    text: z.string().max(10_000).refine((t) => t.trim().length > 0, 'must not be blank'),
    user: z
      .object({
        email: z.string().trim().max(512).email().optional(),
        accountId: z.union([z.string().trim().min(1).max(512), z.number().finite()]).transform(String).optional(),
        name: z.string().trim().max(256).optional(),
        phone: Typed(64),
        userHash: z.string().trim().max(256).optional(),
      })
      .passthrough()
      .optional(),
    name: Typed(256),
    email: Typed(512),
    phone: Typed(64),
    prechat: PrechatSchema.optional(),
    fields: FieldsSchema.optional(),
    customFields: FieldsSchema.optional(),
    attributes: FieldsSchema.optional(),
    page: z
      .object({ url: z.string().max(4096).optional(), title: z.string().max(1024).optional() })
      .passthrough()
      .optional(),
  })
  .passthrough();
const KNOWN_FIELDS = new Set(['siteId', 'visitorId', 'messageId', 'text', 'user', 'name', 'email', 'phone', 'prechat', 'fields', 'customFields', 'attributes', 'page']);
export type WebchatBody = z.input<typeof WebchatBodySchema>;

export type WebchatIdentity = 'verified' | 'unverified' | 'anonymous';

const pick = <T extends Record<string, unknown>, K extends keyof T>(object: T, keys: readonly K[]): Partial<Pick<T, K>> =>
  Object.fromEntries(keys.filter((k) => object[k] !== undefined && object[k] !== '').map((k) => [k, object[k]])) as Partial<Pick<T, K>>;

/** The user hash a site's server computes: hex HMAC-SHA256(identitySecret, identifier). */
export function webchatUserHash(identitySecret: string, identifier: string): string {
  return createHmac('sha256', identitySecret).update(identifier, 'utf8').digest('hex');
}

/** Which identity the user part of a body proves, and why not when it does not. */
export function checkUserHash(
  user: { email?: string; accountId?: string; userHash?: string } | undefined,
  identitySecret: string,
): { identity: WebchatIdentity; identifier?: 'accountId' | 'email'; reason?: string } {
  const identifier = user?.accountId !== undefined ? 'accountId' : user?.email !== undefined ? 'email' : undefined;
  if (!identifier) return { identity: 'anonymous' };
  if (!identitySecret) return { identity: 'unverified', identifier, reason: 'no identity secret is configured on this channel' };
  if (!user?.userHash) return { identity: 'unverified', identifier, reason: 'no userHash was given' };
  const expected = webchatUserHash(identitySecret, user[identifier]!);
  return safeEqual(user.userHash.toLowerCase(), expected)
    ? { identity: 'verified', identifier }
    : { identity: 'unverified', identifier, reason: `userHash does not match the ${identifier}` };
}

const normaliseOrigin = (origin: string): string => origin.trim().replace(/\/+$/, '').toLowerCase();

function originAllowed(origin: string, config: WebchatConfig): boolean {
  const allowed = config.allowedOrigins.split(',').map(normaliseOrigin).filter(Boolean);
  return !allowed.length || allowed.includes('*') || allowed.includes(normaliseOrigin(origin));
}

/**
 * CORS for the widget on the customer's own site: the calling origin may read our answers when it is
 * allowed. The widget sends no cookies (credentials: 'omit'), so no Allow-Credentials.
 */
function corsHeaders(request: WebhookRequest, config: WebchatConfig): Record<string, string> | undefined {
  const origin = header(request, 'origin');
  if (origin === undefined || !originAllowed(origin, config)) return undefined;
  return {
    'Access-Control-Allow-Origin': origin,
    'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
    'Access-Control-Allow-Headers': 'content-type',
    'Access-Control-Max-Age': '600',
    Vary: 'Origin',
  };
}

const firstQueryValue = (value: unknown): string | undefined => {
  const v = Array.isArray(value) ? value[0] : value;
  return typeof v === 'string' ? v : undefined;
};

/**
 * What the web chat webhook serves besides visitor messages, on the same URL (so it works through one n8n
 * webhook): OPTIONS = a CORS preflight; GET ?visitorId= = the visitor's reply feed; GET ?asset=widget.js =
 * the widget script, calling back this URL; GET with no query = a demo page embedding that script.
 */
async function serveWebchat(ot: Omnithread, request: WebhookRequest, config: WebchatConfig, endpoint: string): Promise<WebhookReply | undefined> {
  const method = request.method.toUpperCase();
  if (method === 'OPTIONS') return { status: 204, body: undefined, type: 'text' };
  if (method !== 'GET' && method !== 'HEAD') return undefined;
  const noStore = { 'Cache-Control': 'no-store' };
  const visitorId = firstQueryValue(request.query.visitorId);
  if (visitorId !== undefined) {
    const siteId = firstQueryValue(request.query.siteId);
    if (siteId !== undefined && siteId !== config.siteId) {
      throw new OmnithreadError('INVALID_INPUT', `Invalid web chat poll: siteId: is "${siteId.slice(0, 100)}", but this endpoint serves site "${config.siteId}"`, { field: 'siteId' });
    }
    const after = firstQueryValue(request.query.after);
    const feed = await webchatReplies(ot, { siteId: config.siteId, visitorId, ...(after ? { after } : {}) });
    return { status: 200, body: feed, headers: noStore };
  }
  if (!endpoint) return undefined;
  const widget: WidgetOptions = { endpoint, siteId: config.siteId, title: config.widgetTitle, greeting: config.widgetGreeting };
  const asset = firstQueryValue(request.query.asset);
  if (asset === 'widget.js') return { status: 200, body: widgetScript(widget), type: 'javascript', headers: { 'Cache-Control': 'public, max-age=300' } };
  if (asset !== undefined) throw new OmnithreadError('INVALID_INPUT', `Unknown asset "${asset.slice(0, 100)}": this webhook serves ?asset=widget.js`, { field: 'asset' });
  return { status: 200, body: demoPage({ ...widget, scriptUrl: `${endpoint}?asset=widget.js` }), type: 'html', headers: noStore };
}

export const webchatChannel: SyncChannelModule<WebchatConfig> = {
  id: 'webchat',
  displayName: 'Web Chat',
  description: 'An embeddable chat widget for your site, with verified identity by HMAC user hash',
  configSchema: WebchatConfigSchema,
  settings: Object.keys(WebchatConfigSchema.shape),
  secrets: ['identitySecret'],
  settingFields: [
    { name: 'siteId', displayName: 'Site ID', description: 'The site the widget runs on: visitor ids are scoped to it', default: 'default' },
    {
      name: 'identitySecret',
      displayName: 'Identity Secret',
      description:
        "Shared with your site's server, which passes userHash = hex HMAC-SHA256(secret, account ID, or email when there is no account ID) for a signed-in user. A matching hash makes the email or account ID verified. Empty = nobody can be verified.",
      secret: true,
    },
    {
      name: 'allowedOrigins',
      displayName: 'Allowed Origins',
      description: 'Comma-separated origins allowed to post messages (e.g. https://shop.example). Empty = any.',
      placeholder: 'https://shop.example',
    },
    { name: 'widgetTitle', displayName: 'Widget Title', description: 'The title of the chat widget the webhook serves', default: 'Chat with us' },
    { name: 'widgetGreeting', displayName: 'Widget Greeting', description: 'The first line the visitor reads in the widget', default: 'Hi! How can we help?' },
  ],
  sendFields: [],

  serve(request, config, { ot, endpoint }) {
    return serveWebchat(ot, request, config, endpoint);
  },

  responseHeaders(request, config) {
    return corsHeaders(request, config);
  },

  verify(request, config) {
    const origin = header(request, 'origin');
    // Browsers always send Origin on a cross-origin POST; a request without one is not from a page elsewhere.
    if (origin === undefined || originAllowed(origin, config)) return { ok: true };
    return { ok: false, status: 403, reason: `origin ${origin.slice(0, 200)} is not allowed` };
  },

  parse(request, config) {
    const body = parseInput(WebchatBodySchema, parseJsonBody(request), 'web chat message');
    if (body.siteId !== undefined && body.siteId !== config.siteId) {
      throw new OmnithreadError('INVALID_INPUT', `Invalid web chat message: siteId: is "${body.siteId.slice(0, 100)}", but this endpoint serves site "${config.siteId}"`, {
        field: 'siteId',
      });
    }
    const check = checkUserHash(body.user, config.identitySecret);
    const handles: HandleInput[] = [{ kind: 'webchat_visitor', scope: config.siteId, value: body.visitorId, trust: 'channel' }];
    const trustOf = (which: 'email' | 'accountId'): Trust => (check.identity === 'verified' && check.identifier === which ? 'verified' : 'asserted');
    if (body.user?.accountId !== undefined) handles.push({ kind: 'account', value: body.user.accountId, trust: trustOf('accountId') });
    if (body.user?.email !== undefined) handles.push({ kind: 'email', value: body.user.email, trust: trustOf('email') });
    // Typed by the visitor: theirs to claim, vouched for by the site only in a verified session.
    const typedTrust: Trust = check.identity === 'verified' ? 'channel' : 'asserted';
    const typed = { ...body.prechat, ...pick(body, ['name', 'email', 'phone']) };
    for (const email of [typed.email].filter((e): e is string => !!e)) handles.push({ kind: 'email', value: email, trust: typedTrust });
    for (const phone of [body.user?.phone, typed.phone].filter((p): p is string => !!p)) handles.push({ kind: 'phone', value: phone, trust: typedTrust });
    const fields = { ...body.attributes, ...body.customFields, ...body.fields };
    const ignored = Object.keys(body).filter((k) => !KNOWN_FIELDS.has(k));
    const name = body.user?.name || typed.name;
    const userAgent = header(request, 'user-agent');
    const messageId = body.messageId ?? `srv-${randomUUID()}`;
    const message: MessageInput = {
      channel: 'webchat',
      channelAccount: config.siteId,
      // Scoped to the visitor, so one visitor can never make another's message look like a redelivery.
      providerMessageId: `${body.visitorId}:${messageId}`,
      threadKey: `webchat:${config.siteId}:${body.visitorId}`,
      from: { handles, ...(name ? { name } : {}), ...(Object.keys(fields).length ? { attributes: { webchat: fields } } : {}) },
      text: body.text,
      replyTo: { visitorId: body.visitorId, siteId: config.siteId },
      metadata: {
        webchat: {
          messageId,
          ...(body.messageId === undefined ? { serverAssignedId: true } : {}),
          identity: check.identity,
          ...(check.reason ? { identityReason: check.reason } : {}),
        },
        ...(ignored.length ? { ignoredFields: ignored.slice(0, 50) } : {}),
        ...(body.page?.url !== undefined ? { pageUrl: body.page.url } : {}),
        ...(body.page?.title !== undefined ? { pageTitle: body.page.title } : {}),
        ...(userAgent ? { userAgent: userAgent.slice(0, 1024) } : {}),
      },
      raw: { ...body, ...(body.user?.userHash ? { user: { ...body.user, userHash: '(redacted)' } } : {}) },
    };
    return [{ type: 'message', message }];
  },

  respond(outcome: WebhookOutcome) {
    const result = outcome.recorded[0] ?? outcome.duplicates[0];
    const meta = (result?.message.metadata?.webchat ?? {}) as { identity?: WebchatIdentity; identityReason?: string; messageId?: string };
    return {
      status: outcome.reply.status,
      body: {
        ...(outcome.reply.body as Record<string, unknown>),
        identity: meta.identity ?? 'anonymous',
        ...(meta.identityReason ? { identityReason: meta.identityReason } : {}),
        ...(meta.messageId ? { messageId: meta.messageId } : {}),
      },
    };
  },

  sendConfigSchema: WebchatSendConfigSchema,
  async send(request) {
    const visitorId = request.to.visitorId;
    if (typeof visitorId !== 'string' || !visitorId) {
      throw new OmnithreadError('INVALID_INPUT', 'A web chat reply needs the visitorId of the message it answers', { field: 'to.visitorId' });
    }
    if (request.template) throw new OmnithreadError('INVALID_INPUT', 'Web chat has no message templates', { field: 'template' });
    // Nothing to call: the reply is recorded on the timeline, where the widget fetches it (webchatReplies).
    return { providerMessageId: `webchat:${randomUUID()}`, response: { queued: true, visitorId, siteId: request.to.siteId ?? null } };
  },
};

// ---------------------------------------------------------------------------------------------
// The visitor's feed
// ---------------------------------------------------------------------------------------------

export interface WebchatFeedMessage {
  id: string;
  direction: 'inbound' | 'outbound';
  text: string;
  at: string;
  /** The widget's own id of an inbound message (to match the bubble it already shows). */
  messageId?: string;
  author?: { name?: string; type?: string };
  attachments?: { url?: string; name?: string; caption?: string }[];
}

export interface WebchatFeed {
  messages: WebchatFeedMessage[];
  /** Pass as `after` on the next poll; null when nothing was seen yet. */
  cursor: string | null;
  /** True when more messages are waiting: poll again at once. */
  more: boolean;
}

export const WebchatRepliesQuerySchema = z
  .object({
    siteId: z.string().trim().min(1).max(256).default('default'),
    visitorId: idString('visitor id'),
    after: z.string().max(200).nullish(),
    limit: z.number().int().min(1).max(500).default(100),
  })
  .strict();

/** A reply being sent is shown once sent; one still pending after this long is given up on (a crashed flow). */
const PENDING_WAIT_MS = 60_000;

const encodeFeedCursor = (at: number, seq: number): string => `c1.${at.toString(36)}.${seq.toString(36)}`;
function decodeFeedCursor(cursor: string): [number, number] {
  const match = /^c1\.([0-9a-z]{1,12})\.([0-9a-z]{1,12})$/.exec(cursor);
  const at = match ? parseInt(match[1], 36) : NaN;
  const seq = match ? parseInt(match[2], 36) : NaN;
  if (!Number.isSafeInteger(at) || !Number.isSafeInteger(seq)) {
    throw new OmnithreadError('INVALID_INPUT', 'Invalid web chat poll: after: is not a cursor returned by an earlier poll', { field: 'after' });
  }
  return [at, seq];
}

/**
 * What the widget polls: the messages shown in the chat (web chat messages in and out on this site,
 * including those of a human who took over), after the cursor of the previous poll. An unknown visitor
 * gets an empty list. A reply still being sent holds the cursor back, so it is never skipped.
 */
export async function webchatReplies(
  ot: Omnithread,
  query: { siteId?: string; visitorId: string; after?: string | null; limit?: number },
  options: { now?: () => number } = {},
): Promise<WebchatFeed> {
  const q = parseInput(WebchatRepliesQuerySchema, query, 'web chat poll');
  const after = q.after ? decodeFeedCursor(q.after) : undefined;
  const empty: WebchatFeed = { messages: [], cursor: q.after ?? null, more: false };
  const contact = await ot.findContact({ kind: 'webchat_visitor', scope: q.siteId, value: q.visitorId });
  if (!contact) return empty;
  const now = options.now ? options.now() : ot.now();

  const messages: WebchatFeedMessage[] = [];
  let cursor = q.after ?? null;
  let pageCursor: string | undefined;
  for (;;) {
    const page = await ot.timeline(contact.id, {
      channels: ['webchat'],
      kinds: ['message'],
      ...(after ? { since: after[0] } : {}),
      limit: 200,
      ...(pageCursor ? { cursor: pageCursor } : {}),
    });
    for (const event of page.events) {
      const at = Date.parse(event.occurredAt);
      if (after && (at < after[0] || (at === after[0] && event.seq <= after[1]))) continue;
      const state = event.data.sendState;
      if (state === 'pending' && now - at < PENDING_WAIT_MS) return { messages, cursor, more: false };
      cursor = encodeFeedCursor(at, event.seq);
      if (!shownInChat(event, q.siteId) || state === 'pending' || state === 'failed') continue;
      messages.push(feedMessage(event));
      if (messages.length >= q.limit) return { messages, cursor, more: true };
    }
    if (!page.nextCursor) return { messages, cursor, more: false };
    pageCursor = page.nextCursor;
  }
}

function shownInChat(event: TimelineEvent, siteId: string): boolean {
  if (event.channelAccount === siteId) return true;
  // A human agent's answer recorded without the site (recordOutbound with channel 'webchat' only).
  const author = event.data.author as { type?: string } | undefined;
  return event.direction === 'outbound' && !event.channelAccount && author?.type === 'human';
}

function feedMessage(event: TimelineEvent): WebchatFeedMessage {
  const author = event.data.author as { name?: string; type?: string } | undefined;
  const meta = event.data.metadata as { webchat?: { messageId?: unknown } } | undefined;
  const attachments = (Array.isArray(event.data.attachments) ? event.data.attachments : []) as { url?: string; name?: string; caption?: string }[];
  return {
    id: event.id,
    direction: event.direction === 'outbound' ? 'outbound' : 'inbound',
    text: event.text,
    at: event.occurredAt,
    ...(typeof meta?.webchat?.messageId === 'string' ? { messageId: meta.webchat.messageId } : {}),
    ...(event.direction === 'outbound' && author ? { author: { ...(author.name ? { name: author.name } : {}), ...(author.type ? { type: author.type } : {}) } } : {}),
    ...(attachments.length ? { attachments: attachments.map((a) => ({ url: a.url, name: a.name, caption: a.caption })) } : {}),
  };
}
