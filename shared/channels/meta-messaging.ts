/**
 * What Messenger and Instagram messaging share (both are the Meta Messenger Platform): the webhook body
 * `{ object, entry: [{ id, time, messaging: [event...] }] }`, the event shapes (message, postback,
 * delivery, read, reaction) and the Send API (POST {base}/{version}/me/messages with the page access token).
 * messenger.ts and instagram.ts are thin instances of `metaMessagingChannel`.
 *
 * Parsing, per messaging event (events of any other kind, `standby` arrays and entries without
 * `messaging` such as Instagram comment `changes` are ignored):
 * - `message` from the customer: one message; a reply to an earlier message (reply_to.mid) names it in
 *   inReplyTo. `is_deleted` (Instagram: the customer unsent it): a `canceled` status on the deleted
 *   message, details `{ event: 'message_deleted' }`, so the timeline keeps what was said and when it
 *   was withdrawn (the core has no deletion status, and erasing is the erase operation's job).
 * - `is_echo`: a copy of a message the page sent. On Messenger, one that Omnithread's own Reply sent
 *   carries our metadata ("omnithread", set by `send`): skipped, it is on the timeline already. Any other
 *   (a human answering in the Meta Business Suite inbox, another tool) is recorded as OUR message
 *   (direction outbound) on the customer's timeline, so the next agent sees what was answered there.
 *   Instagram's Send API has no such metadata to tell our own echoes apart, so Instagram echoes are skipped.
 * - `message_edit` (the customer edited a message): the same mid with editedAt = the event's time, so the
 *   core updates the original item in place.
 * - `postback` (a button tapped): a message whose text is the button title; payload in metadata.
 *   Without a `mid` (older API versions) its id is `postback:{sender}:{timestamp}`, stable on redelivery.
 * - `delivery`: a `delivered` status for each of `mids` (at = watermark). Without mids (the documentation
 *   says they may be absent), and Messenger reads (`read: { watermark }`): a watermark status, which the
 *   core applies to every message we sent the customer up to that time. Instagram's `read: { mid }`
 *   (messaging_seen) is a `read` status on that mid.
 * - `reaction`: skipped (a reaction is neither a message nor a status of one).
 */
import type { AxiosInstance } from 'axios';
import { z } from 'zod';
import { OmnithreadError } from '../errors';
import { Attachment, HandleKind, MessageInput, parseInput } from '../model';
import { SyncChannelModule, InboundItem, OutboundRequest, SendResult } from './channel';
import { parseJsonBody } from './body';
import { providerError } from './http';
import { metaChallenge, metaVerify } from './meta';

export const MetaMessagingConfigSchema = z
  .object({
    /** The Meta app secret: X-Hub-Signature-256 is an HMAC of the body with it. */
    appSecret: z.string().default(''),
    /** The token typed in the app dashboard's webhook settings, echoed in the GET handshake. */
    verifyToken: z.string().default(''),
  })
  .strict();
export type MetaMessagingConfig = z.output<typeof MetaMessagingConfigSchema>;

export const MetaSendConfigSchema = z
  .object({
    /** A page access token (for Instagram: of the Facebook page linked to the Instagram account). */
    pageAccessToken: z.string().trim().min(1, 'is required to send'),
    apiVersion: z
      .string()
      .regex(/^v\d+\.\d+$/, 'must be a Graph API version such as "v21.0"')
      .default('v21.0'),
    apiBaseUrl: z.string().url().default('https://graph.facebook.com'),
  })
  .strict();
export type MetaSendConfig = z.output<typeof MetaSendConfigSchema>;

// ---------------------------------------------------------------------------------------------
// The webhook body. Lenient about fields we do not use (Meta adds some over time), strict about the ones we do.
// ---------------------------------------------------------------------------------------------

/** Meta's ids are strings; numbers are accepted too (some tools re-serialise them). */
const Id = z.preprocess(
  (value) => (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? String(value) : value),
  z.string({ required_error: 'is required', invalid_type_error: 'must be an id (a string)' }).trim().min(1, 'must not be empty').max(256),
);
const Ms = z.number().int().nonnegative().max(8_640_000_000_000_000, 'must be epoch milliseconds');

const AttachmentSchema = z
  .object({
    type: z.string().max(64),
    title: z.string().max(4096).nullish(),
    url: z.string().max(4096).nullish(),
    payload: z.object({ url: z.string().max(4096).nullish(), title: z.string().max(4096).nullish() }).passthrough().nullish(),
  })
  .passthrough();

const MessageSchema = z
  .object({
    mid: Id,
    text: z.string().max(200_000).nullish(),
    attachments: z.array(AttachmentSchema).max(100).nullish(),
    quick_reply: z.object({ payload: z.string().max(4096).nullish() }).passthrough().nullish(),
    reply_to: z.object({ mid: Id.nullish(), story: z.unknown() }).passthrough().nullish(),
    is_echo: z.boolean().nullish(),
    is_deleted: z.boolean().nullish(),
    app_id: z.unknown(),
    metadata: z.string().max(1000).nullish(),
  })
  .passthrough();

/** What `send` puts in the Send API's message.metadata: echoed back, it tells our own messages apart. */
export const OUR_ECHO_METADATA = 'omnithread';

const EventSchema = z
  .object({
    sender: z.object({ id: Id }).passthrough(),
    recipient: z.object({ id: Id }).passthrough(),
    timestamp: Ms.nullish(),
    message: MessageSchema.nullish(),
    postback: z
      .object({ mid: Id.nullish(), title: z.string().max(4096).nullish(), payload: z.string().max(4096).nullish() })
      .passthrough()
      .nullish(),
    delivery: z
      .object({ mids: z.array(Id).max(1000).nullish(), watermark: Ms.nullish() })
      .passthrough()
      .nullish(),
    read: z
      .object({ mid: Id.nullish(), watermark: Ms.nullish() })
      .passthrough()
      .nullish(),
    message_edit: z
      .object({ mid: Id, text: z.string().max(200_000).nullish(), num_edit: z.union([z.number(), z.string()]).nullish() })
      .passthrough()
      .nullish(),
  })
  .passthrough();
type MetaEvent = z.output<typeof EventSchema>;

const bodySchema = (object: string) =>
  z
    .object({
      object: z.string().refine((value) => value === object, { message: `must be "${object}"` }),
      entry: z
        .array(
          z
            .object({
              id: Id,
              time: Ms.nullish(),
              messaging: z.array(EventSchema).max(1000).nullish(),
            })
            .passthrough(),
        )
        .max(1000),
    })
    .passthrough();

const CONTENT_TYPES: Record<string, string> = { image: 'image/*', video: 'video/*', audio: 'audio/*', file: 'application/octet-stream' };

// ---------------------------------------------------------------------------------------------
// The channel
// ---------------------------------------------------------------------------------------------

export interface MetaMessagingOptions {
  id: 'messenger' | 'instagram';
  displayName: string;
  description: string;
  /** The webhook body's `object`: 'page' or 'instagram'. */
  object: string;
  handleKind: Extract<HandleKind, 'messenger_psid' | 'instagram_igsid'>;
  /** The key of the receiving page/account in `replyTo` (Messenger: pageId, Instagram: accountId). */
  accountKey: 'pageId' | 'accountId';
}

export function metaMessagingChannel(options: MetaMessagingOptions): SyncChannelModule<MetaMessagingConfig> {
  const schema = bodySchema(options.object);
  return {
    id: options.id,
    displayName: options.displayName,
    description: options.description,
    configSchema: MetaMessagingConfigSchema,
    settings: Object.keys(MetaMessagingConfigSchema.shape),
    secrets: ['appSecret', 'verifyToken'],
    settingFields: [
      {
        name: 'appSecret',
        displayName: 'App Secret',
        description: `The Meta app's secret (App settings > Basic): every delivery is signed with it in X-Hub-Signature-256. Deliveries with a missing or wrong signature get 401 and are not stored.`,
        secret: true,
        required: true,
      },
      {
        name: 'verifyToken',
        displayName: 'Verify Token',
        description: `Any string you choose, typed again as the Verify Token in the app's ${options.displayName} webhook settings: Meta's GET handshake is answered only when it matches`,
        secret: true,
        required: true,
      },
    ],
    sendConfigSchema: MetaSendConfigSchema,
    sendFields: [
      {
        name: 'pageAccessToken',
        displayName: 'Page Access Token',
        description:
          options.id === 'instagram'
            ? 'A page access token of the Facebook page linked to the Instagram account (instagram_manage_messages), or an Instagram user token with API Base URL https://graph.instagram.com'
            : 'A page access token of the page (pages_messaging)',
        secret: true,
        required: true,
      },
      { name: 'apiVersion', displayName: 'API Version', description: 'The Graph API version', default: 'v21.0' },
      { name: 'apiBaseUrl', displayName: 'API Base URL', description: 'Where the Send API is', default: 'https://graph.facebook.com' },
    ],

    challenge: (request, config) => metaChallenge(request, config.verifyToken),
    verify: (request, config) => metaVerify(request, config.appSecret),

    parse(request) {
      const body = parseInput(schema, parseJsonBody(request), `${options.displayName} delivery`);
      const items: InboundItem[] = [];
      for (const entry of body.entry) for (const event of entry.messaging ?? []) items.push(...eventItems(event, options));
      return items;
    },

    send: (request, sendConfig, http) => sendMeta(options.displayName, request, sendConfig, http),
  };
}

function eventItems(event: MetaEvent, options: MetaMessagingOptions): InboundItem[] {
  const channel = options.id;
  const message = event.message;
  // An echo goes from the page/account (sender) to the customer (recipient); everything else the other way.
  const echo = message?.is_echo === true;
  const customer = echo ? event.recipient.id : event.sender.id;
  const account = echo ? event.sender.id : event.recipient.id;
  const customerHandle = { kind: options.handleKind, scope: account, value: customer, trust: 'channel' as const };
  const base = {
    channel,
    channelAccount: account,
    // The core finds a thread's contact by (channel, threadKey): the key must include the page/account.
    threadKey: `${account}:${customer}`,
    from: { handles: [customerHandle] },
    sentAt: event.timestamp ?? undefined,
    replyTo: { recipientId: customer, [options.accountKey]: account },
    raw: event,
  };
  if (message) {
    if (echo && (message.metadata === OUR_ECHO_METADATA || channel !== 'messenger')) return [];
    if (message.is_deleted) {
      return [status(channel, account, message.mid, 'canceled', event.timestamp, { event: 'message_deleted' })];
    }
    const attachments: Attachment[] = [];
    const types: string[] = [];
    for (const a of message.attachments ?? []) {
      const url = a.payload?.url ?? a.url ?? undefined;
      const title = a.title ?? a.payload?.title ?? undefined;
      types.push(a.type);
      attachments.push({
        ...(url ? { url } : {}),
        ...(CONTENT_TYPES[a.type] ? { contentType: CONTENT_TYPES[a.type] } : {}),
        ...(title ? { name: title } : {}),
      });
    }
    const metadata: Record<string, unknown> = {};
    if (types.length) metadata.attachmentTypes = types;
    if (message.quick_reply) metadata.quickReply = { payload: message.quick_reply.payload ?? null };
    if (message.reply_to) metadata.replyTo = message.reply_to;
    if (echo) metadata.echo = { appId: message.app_id ?? null };
    const answered = message.reply_to?.mid ?? undefined;
    const input: MessageInput = {
      ...base,
      providerMessageId: message.mid,
      ...(answered ? { inReplyTo: [answered] } : {}),
      text: message.text ?? '',
      attachments,
      ...(Object.keys(metadata).length ? { metadata } : {}),
      // Ours: the customer is the recipient; the page is the sender.
      ...(echo ? { direction: 'outbound' as const, from: { handles: [{ kind: 'external_id' as const, scope: channel, value: account, trust: 'channel' as const }] }, to: { handles: [customerHandle] } } : {}),
    };
    return [{ type: 'message', message: input }];
  }
  if (event.message_edit) {
    const edit = event.message_edit;
    const input: MessageInput = {
      ...base,
      providerMessageId: edit.mid,
      editedAt: event.timestamp ?? undefined,
      text: edit.text ?? '',
      attachments: [],
      metadata: { edit: { numEdit: edit.num_edit ?? null } },
    };
    return [{ type: 'message', message: input }];
  }
  const postback = event.postback;
  if (postback) {
    const mid = postback.mid ?? `postback:${customer}:${event.timestamp ?? 0}`;
    const input: MessageInput = {
      ...base,
      providerMessageId: mid,
      text: postback.title ?? '',
      attachments: [],
      metadata: { postback: { title: postback.title ?? null, payload: postback.payload ?? null } },
    };
    return [{ type: 'message', message: input }];
  }
  if (event.delivery) {
    const at = event.delivery.watermark ?? event.timestamp;
    const mids = event.delivery.mids ?? [];
    if (!mids.length) return at != null ? [watermark(channel, account, customerHandle, 'delivered', at)] : [];
    return mids.map((mid) => status(channel, account, mid, 'delivered', at));
  }
  if (event.read?.mid) return [status(channel, account, event.read.mid, 'read', event.timestamp)];
  if (event.read?.watermark != null) return [watermark(channel, account, customerHandle, 'read', event.read.watermark, event.timestamp)];
  return [];
}

/** A receipt that covers every message we sent the customer up to `upTo` (applied by the core). */
function watermark(
  channel: string,
  account: string,
  recipient: { kind: HandleKind; scope: string; value: string; trust: 'channel' },
  value: 'delivered' | 'read',
  upTo: number,
  at?: number | null,
): InboundItem {
  return { type: 'status', status: { channel, channelAccount: account, upTo, recipient, status: value, ...(at != null ? { at } : {}), details: {} } };
}

function status(channel: string, account: string, mid: string, value: 'delivered' | 'read' | 'canceled', at: number | null | undefined, details: Record<string, unknown> = {}): InboundItem {
  return { type: 'status', status: { channel, channelAccount: account, providerMessageId: mid, status: value, ...(at != null ? { at } : {}), details } };
}

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------

const MEDIA_TYPES = { image: 'image', video: 'video', audio: 'audio', document: 'file' } as const;

/** Meta's own error codes, which arrive as HTTP 400 more often than not. */
export function metaSpecificError(provider: string) {
  return (status: number | undefined, body: unknown): OmnithreadError | undefined => {
    const error = (body as { error?: { code?: unknown; error_subcode?: unknown; message?: unknown } } | undefined)?.error;
    // A 429 is left to providerError, which reads the Retry-After header.
    if (status === 429 || !error || typeof error !== 'object') return undefined;
    const code = Number(error.code);
    const subcode = Number(error.error_subcode);
    const said = typeof error.message === 'string' ? error.message : `error code ${code}`;
    const details = { provider, status, response: body };
    if (code === 10 && subcode === 2018278) {
      return new OmnithreadError('WINDOW_CLOSED', `${provider}: the 24-hour messaging window with this person has closed (${said})`, { details });
    }
    if (code === 190) return new OmnithreadError('AUTH_FAILED', `${provider} refused the page access token: ${said}`, { details });
    if (code === 4 || code === 32 || code === 613) {
      return new OmnithreadError('RATE_LIMITED', `${provider} rate limit reached: ${said}`, { details: { ...details, retryAfterSeconds: undefined } });
    }
    return undefined;
  };
}

async function sendMeta(provider: string, request: OutboundRequest, sendConfig: unknown, http: AxiosInstance): Promise<SendResult> {
  const config = parseInput(MetaSendConfigSchema, sendConfig ?? {}, `${provider} send settings`);
  const recipientId = request.to?.recipientId;
  if ((typeof recipientId !== 'string' || !recipientId.trim()) && typeof recipientId !== 'number') {
    throw new OmnithreadError('INVALID_INPUT', `${provider} needs to.recipientId (the replyTo of the inbound message)`, { field: 'to.recipientId' });
  }
  const text = request.text ?? '';
  if (!text && !request.media) throw new OmnithreadError('INVALID_INPUT', `Nothing to send: give a text or media`, { field: 'text' });
  const url = `${config.apiBaseUrl.replace(/\/+$/, '')}/${config.apiVersion}/me/messages`;
  const post = async (message: Record<string, unknown>): Promise<{ recipient_id?: string; message_id: string }> => {
    try {
      const response = await http.post(
        url,
        // Messenger echoes message.metadata back: that is how our own messages are told apart from an agent's.
        { recipient: { id: String(recipientId) }, messaging_type: 'RESPONSE', message: provider === 'Messenger' ? { ...message, metadata: OUR_ECHO_METADATA } : message },
        { params: { access_token: config.pageAccessToken }, headers: { 'content-type': 'application/json' } },
      );
      const data = response.data as { recipient_id?: string; message_id?: unknown };
      if (typeof data?.message_id !== 'string' || !data.message_id) {
        throw new OmnithreadError('PROVIDER_ERROR', `${provider} answered without a message_id`, { details: { provider, status: response.status, response: data, delivery: 'unknown' } });
      }
      return data as { recipient_id?: string; message_id: string };
    } catch (error) {
      throw providerError(provider, error, metaSpecificError(provider));
    }
  };
  // The text (or the media's caption) goes first as its own message: Meta attachments carry no caption.
  const caption = text || request.media?.caption || '';
  const sent: unknown[] = [];
  let last: { message_id: string } | undefined;
  if (caption) sent.push((last = await post({ text: caption })));
  if (request.media) {
    last = await post({ attachment: { type: MEDIA_TYPES[request.media.type], payload: { url: request.media.url, is_reusable: true } } });
    sent.push(last);
  }
  return { providerMessageId: last!.message_id, response: sent.length === 1 ? sent[0] : sent };
}
