/**
 * X direct messages, received through the Account Activity API and sent through the X API v2.
 *
 * Receiving (https://docs.x.com/x-api/account-activity/introduction):
 *   - the CRC: X calls the webhook with GET ?crc_token=... when it is registered and about hourly after;
 *     the answer is 200 JSON {"response_token": "sha256=" + base64(HMAC-SHA256(consumer secret, crc_token))}
 *   - every delivery is a POST signed in `x-twitter-webhooks-signature`:
 *     "sha256=" + base64(HMAC-SHA256(consumer secret, raw body)); a missing or wrong one gets 401
 *   - a delivery names the subscribed account (`for_user_id`) and holds events by kind. Only
 *     `direct_message_events` of type `message_create` become messages, and only those sent TO the
 *     account: one whose sender_id is for_user_id is our own message (sent from the app or x.com), ignored.
 *     Tweets, likes, follows, typing and read events are ignored (no item).
 *
 * Settings: consumerSecret (secret: the app's API secret key, not a bearer or access token) and
 * accountId (optional: when set, deliveries for other subscribed accounts are acknowledged and ignored,
 * so that one node handles one account).
 *
 * A message: channelAccount = for_user_id, providerMessageId = the DM event id, handle x_user scoped to
 * for_user_id, the name from the delivery's `users` map, threadKey = the one-to-one conversation id
 * ("<smaller user id>-<larger user id>", as the X API v2 names it), attachments = the media URL,
 * replyTo = { participantId: sender_id }.
 *
 * Sending (POST /2/dm_conversations/with/:participant_id/messages, OAuth 2.0 user token with dm.write):
 * send settings userAccessToken (secret) and apiBaseUrl (default https://api.x.com). Text only: media
 * needs an upload through the media endpoint first, which this channel does not do (INVALID_INPUT).
 * Errors: 429 -> RATE_LIMITED (retry after x-rate-limit-reset, epoch seconds), 401/403 -> AUTH_FAILED,
 * anything else -> PROVIDER_ERROR.
 */
import { createHmac } from 'node:crypto';
import type { AxiosError, AxiosInstance } from 'axios';
import { z } from 'zod';
import { OmnithreadError } from '../errors';
import { Attachment, MessageInput, parseInput } from '../model';
import { SyncChannelModule, InboundItem, OutboundRequest, SendResult, header } from './channel';
import { parseJsonBody } from './body';
import { providerError, safeEqual } from './http';

export const X_SIGNATURE_HEADER = 'x-twitter-webhooks-signature';

const XId = z.string().regex(/^[1-9]\d{0,24}$/, 'must be an X id (digits)');

const XConfigObject = z
  .object({
    /** The app's consumer secret (API secret key): signs the CRC answer and every delivery. */
    consumerSecret: z.string().trim().default(''),
    /** The subscribed account whose DMs this node records; empty = every account the webhook delivers. */
    accountId: z.union([XId, z.literal('')]).default(''),
  })
  .strict();
export const XChannelConfigSchema = XConfigObject;
export type XChannelConfig = z.output<typeof XChannelConfigSchema>;

export const XSendConfigSchema = z
  .object({
    /** OAuth 2.0 user access token of the account that sends (scopes dm.write, dm.read, tweet.read, users.read). */
    userAccessToken: z.string().trim().min(1, 'is required (an OAuth 2.0 user access token with dm.write)'),
    apiBaseUrl: z.string().trim().url('must be a URL such as https://api.x.com').default('https://api.x.com'),
  })
  .strict();
export type XSendConfig = z.output<typeof XSendConfigSchema>;

/** "sha256=" + base64 HMAC-SHA256: the CRC response_token (over the crc_token) and the delivery signature (over the body). */
export function xSignature(consumerSecret: string, data: string | Buffer): string {
  return `sha256=${createHmac('sha256', consumerSecret).update(data).digest('base64')}`;
}

function parseField<S extends z.ZodTypeAny>(schema: S, value: unknown, what: string, field: string): z.output<S> {
  return (parseInput(z.object({ [field]: schema }), { [field]: value }, what) as Record<string, z.output<S>>)[field];
}

const MediaSchema = z
  .object({
    id_str: z.string().max(64).optional(),
    type: z.string().max(64).optional(),
    media_url_https: z.string().max(4096).optional(),
    url: z.string().max(4096).optional(),
    expanded_url: z.string().max(4096).optional(),
  })
  .passthrough();

const MessageCreateEventSchema = z.object({
  type: z.literal('message_create'),
  id: XId,
  created_timestamp: z.string().regex(/^\d{1,15}$/, 'must be epoch milliseconds as a string'),
  message_create: z.object({
    target: z.object({ recipient_id: XId }),
    sender_id: XId,
    source_app_id: z.string().max(64).optional(),
    message_data: z.object({
      text: z.string().max(100_000).default(''),
      entities: z.record(z.string(), z.unknown()).optional(),
      attachment: z.object({ type: z.string().max(64), media: MediaSchema }).optional(),
    }),
  }),
});

const UserSchema = z.object({ id: z.string().max(64).optional(), name: z.string().max(1024).optional(), screen_name: z.string().max(256).optional() }).passthrough();

const DeliverySchema = z.object({
  for_user_id: XId,
  direct_message_events: z.array(z.object({ type: z.string().max(128) }).passthrough()).max(1000).optional(),
  users: z.record(z.string(), UserSchema).optional(),
});

/** The one-to-one conversation id: "<smaller id>-<larger id>". */
const conversationId = (a: string, b: string): string => (BigInt(a) <= BigInt(b) ? `${a}-${b}` : `${b}-${a}`);

function parseDelivery(body: unknown, config: XChannelConfig): InboundItem[] {
  const delivery = parseInput(DeliverySchema, body, 'X Account Activity delivery');
  const events = delivery.direct_message_events ?? [];
  // Validate every message_create event before deciding what to keep, so a malformed one is always refused.
  const parsed = events.map((event, i) =>
    event.type === 'message_create' ? parseField(MessageCreateEventSchema, event, 'X Account Activity delivery', `direct_message_events.${i}`) : undefined,
  );
  if (config.accountId && delivery.for_user_id !== config.accountId) return [];
  const items: InboundItem[] = [];
  for (const event of parsed) {
    if (!event) continue; // other DM event types
    const create = event.message_create;
    if (create.sender_id === delivery.for_user_id) continue; // our own message, echoed back
    const user = delivery.users?.[create.sender_id];
    const name = user?.name?.trim().slice(0, 256).trim() || undefined;
    const media = create.message_data.attachment?.type === 'media' ? create.message_data.attachment.media : undefined;
    const mediaUrl = media?.media_url_https ?? media?.url;
    const attachments: Attachment[] = mediaUrl ? [{ url: mediaUrl, ...(media?.type ? { name: media.type } : {}) }] : [];
    const message: MessageInput = {
      channel: 'x',
      channelAccount: delivery.for_user_id,
      providerMessageId: event.id,
      threadKey: conversationId(create.sender_id, delivery.for_user_id),
      from: {
        name,
        handles: [
          { kind: 'x_user', scope: delivery.for_user_id, value: create.sender_id, trust: 'channel' },
          // A screen name changes hands: it can suggest a merge, never make one.
          ...(user?.screen_name ? [{ kind: 'username' as const, scope: 'x', value: user.screen_name, trust: 'asserted' as const }] : []),
        ],
      },
      text: create.message_data.text,
      attachments,
      sentAt: Number(event.created_timestamp),
      replyTo: { participantId: create.sender_id },
      metadata: {
        recipientId: create.target.recipient_id,
        ...(user?.screen_name ? { screenName: user.screen_name } : {}),
        ...(media ? { media: { ...(media.id_str ? { id: media.id_str } : {}), ...(media.type ? { type: media.type } : {}) } } : {}),
      },
      raw: event,
    };
    items.push({ type: 'message', message });
  }
  return items;
}

const ToSchema = z.object({ participantId: z.union([XId, z.number().int().positive().safe().transform(String)]) }).passthrough();

async function send(request: OutboundRequest, sendConfig: unknown, http: AxiosInstance): Promise<SendResult> {
  const config = parseInput(XSendConfigSchema, sendConfig ?? {}, 'X send settings');
  const { participantId } = parseField(ToSchema, request.to, 'X recipient', 'to');
  if (request.media) {
    throw new OmnithreadError('INVALID_INPUT', 'X direct messages are sent as text only here: media (which X needs uploaded first) is not supported; put the link in the text', { field: 'media' });
  }
  if (request.template) throw new OmnithreadError('INVALID_INPUT', 'X has no message templates: send text', { field: 'template' });
  const text = request.text ?? '';
  if (!text.trim()) throw new OmnithreadError('INVALID_INPUT', 'Nothing to send: the text is empty', { field: 'text' });
  const url = `${config.apiBaseUrl.replace(/\/+$/, '')}/2/dm_conversations/with/${participantId}/messages`;
  let answer: unknown;
  try {
    const response = await http.post(url, { text }, { headers: { authorization: `Bearer ${config.userAccessToken}`, 'content-type': 'application/json' } });
    answer = response.data;
  } catch (error) {
    throw providerError('X', error, (status, body) => {
      if (status !== 429) return undefined;
      const reset = Number((error as AxiosError).response?.headers?.['x-rate-limit-reset']);
      const retry = Number.isFinite(reset) && reset > 0 ? Math.max(0, Math.ceil(reset - Date.now() / 1000)) : undefined;
      return new OmnithreadError('RATE_LIMITED', `X rate limit reached${retry !== undefined ? `: retry after ${retry} s` : ''}`, {
        details: { provider: 'X', status, response: body, retryAfterSeconds: retry },
      });
    });
  }
  const id = (answer as { data?: { dm_event_id?: unknown } } | undefined)?.data?.dm_event_id;
  if (typeof id !== 'string' || !id) {
    throw new OmnithreadError('PROVIDER_ERROR', `X answered without a dm_event_id: ${JSON.stringify(answer ?? null).slice(0, 300)}`, { details: { provider: 'X', response: answer, delivery: 'unknown' } });
  }
  return { providerMessageId: id, response: answer };
}

export const xChannel: SyncChannelModule<XChannelConfig> = {
  id: 'x',
  displayName: 'X (direct messages)',
  description: 'X direct messages through the Account Activity API webhook (CRC and signed deliveries)',
  configSchema: XChannelConfigSchema,
  settings: Object.keys(XConfigObject.shape),
  secrets: ['consumerSecret'],
  settingFields: [
    {
      name: 'consumerSecret',
      displayName: 'Consumer Secret',
      description:
        "The X app's consumer secret (API secret key, not a bearer or access token). It answers X's CRC check and checks the x-twitter-webhooks-signature of every delivery; unsigned or wrongly signed deliveries get 401 and are not stored.",
      secret: true,
      required: true,
    },
    {
      name: 'accountId',
      displayName: 'Account ID',
      description: 'The numeric id of the X account whose direct messages this node records; deliveries for other subscribed accounts are acknowledged and ignored. Empty = every subscribed account.',
      placeholder: '1450000000000000001',
    },
  ],
  sendFields: [
    {
      name: 'userAccessToken',
      displayName: 'User Access Token',
      description: 'OAuth 2.0 user access token of the account that sends, with the dm.write, dm.read, tweet.read and users.read scopes',
      secret: true,
      required: true,
    },
    { name: 'apiBaseUrl', displayName: 'API Base URL', description: 'The X API server', default: 'https://api.x.com' },
  ],

  challenge(request, config) {
    if (request.method.toUpperCase() !== 'GET') return undefined;
    const token = request.query.crc_token;
    if (typeof token !== 'string' || !token) return undefined; // not a CRC: the handler answers 405
    if (!config.consumerSecret) return { status: 403, body: { error: 'No consumer secret is set in this node, so the CRC can not be answered' } };
    return { status: 200, body: { response_token: xSignature(config.consumerSecret, token) } };
  },

  verify(request, config) {
    if (!config.consumerSecret) return { ok: false, status: 401, reason: 'no consumer secret is set in this node, so the x-twitter-webhooks-signature header can not be checked' };
    const given = header(request, X_SIGNATURE_HEADER);
    if (!given) return { ok: false, status: 401, reason: 'missing x-twitter-webhooks-signature header' };
    return safeEqual(given.trim(), xSignature(config.consumerSecret, request.rawBody))
      ? { ok: true }
      : { ok: false, status: 401, reason: 'x-twitter-webhooks-signature does not match the body (check the consumer secret)' };
  },

  parse(request, config) {
    return parseDelivery(parseJsonBody(request), config);
  },

  sendConfigSchema: XSendConfigSchema,
  send,
};
