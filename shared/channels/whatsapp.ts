/**
 * WhatsApp Cloud API (Meta): the `messages` webhook field in, the Graph API `/{phone-number-id}/messages`
 * endpoint out.
 *
 * In: Meta calls the webhook with `{ object: "whatsapp_business_account", entry: [{ id: <WABA id>, changes:
 * [{ field: "messages", value: { metadata: { phone_number_id }, contacts, messages, statuses } }] }] }`.
 * Each customer message becomes a Message and each status (sent, delivered, read, failed) of a message we
 * sent becomes a status update. Changes of any other field (account updates, template reviews...) are
 * acknowledged and ignored.
 *
 * Identity. WhatsApp names a sender by two ids:
 * - `wa_id` (contacts[].wa_id, messages[].from): the phone number without "+". Recorded as a `phone`
 *   handle (trust `channel`: WhatsApp vouches for it) and as a `whatsapp_id` handle.
 * - the business-scoped user id, BSUID (contacts[].user_id, messages[].from_user_id, e.g.
 *   "US.13491208655302741918"), sent since April 2026 for the usernames feature. A user with a username
 *   may come with the BSUID only, without any phone number. Recorded as a `whatsapp_bsuid` handle.
 * Both scoped handles use scope = the WhatsApp Business Account id (entry[].id): a BSUID belongs to the
 * business portfolio, not to one phone number, so every number of the same WABA sees the same person.
 * The username (contacts[].profile.username) changes hands: it is a `username` handle scoped to 'whatsapp'
 * at asserted trust (it can suggest a merge, never make one), and stays in metadata with the profile name
 * (metadata.profileName; also the contact's name when it has none).
 * A reply (message.context.id) names the message it answers in inReplyTo, so it continues that
 * conversation. An edit (type "edit", documented for Coexistence numbers: edit.original_message_id and
 * the new edit.message) updates the original item in place (providerMessageId = the original's id,
 * editedAt = the edit's timestamp).
 *
 * Replies: `replyTo = { to: <wa_id, or the BSUID when no phone is known>, phoneNumberId }`; `send` posts
 * to the number in `to` with `to`, or to a BSUID with `recipient`, from `replyTo.phoneNumberId` (falling
 * back to the send settings' phoneNumberId).
 */
import type { AxiosError, AxiosInstance } from 'axios';
import { z } from 'zod';
import { OmnithreadError, invalidInput } from '../errors';
import { Attachment, HandleInput, MessageInput, MessageInputSchema, StatusUpdateInput, StatusUpdateInputSchema, parseInput } from '../model';
import { SyncChannelModule, InboundItem, OutboundRequest, SendResult } from './channel';
import { parseJsonBody } from './body';
import { providerError, retryAfterSeconds } from './http';
import { metaChallenge, metaVerify } from './meta';

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

export const WhatsAppChannelConfigSchema = z
  .object({
    /** The Meta app's secret: checks X-Hub-Signature-256. Without it every delivery is refused (401). */
    appSecret: z.string().default(''),
    /** The token typed in the app's webhook settings, echoed in the GET hub.verify_token handshake. */
    verifyToken: z.string().default(''),
    /** Only this business phone number id (empty = every number of the app): others are acknowledged and ignored. */
    phoneNumberId: z.string().trim().max(256).default(''),
  })
  .strict();
export type WhatsAppChannelConfig = z.output<typeof WhatsAppChannelConfigSchema>;

export const WHATSAPP_DEFAULT_API_VERSION = 'v21.0';

export const WhatsAppSendConfigSchema = z
  .object({
    /** A system user's (or temporary) access token with whatsapp_business_messaging. Secret. */
    accessToken: z.string().trim().min(1, 'is required: the WhatsApp access token'),
    /** The business phone number id to send from, when the reply address does not name one. */
    phoneNumberId: z.string().trim().max(256).default(''),
    apiVersion: z
      .string()
      .trim()
      .regex(/^v\d+\.\d+$/, 'must be a Graph API version such as "v21.0"')
      .default(WHATSAPP_DEFAULT_API_VERSION),
    apiBaseUrl: z.string().trim().url('must be a URL such as https://graph.facebook.com').default('https://graph.facebook.com'),
  })
  .strict();
export type WhatsAppSendConfig = z.output<typeof WhatsAppSendConfigSchema>;
export const WHATSAPP_SEND_SETTINGS = Object.keys(WhatsAppSendConfigSchema.shape);
export const WHATSAPP_SEND_SECRETS = ['accessToken'] as const;

// ---------------------------------------------------------------------------------------------
// The webhook payload (only what we use is checked; everything else passes through to `raw`)
// ---------------------------------------------------------------------------------------------

const id = (max: number) => z.string().trim().min(1, 'must not be empty').max(max);
const text = (max: number) => z.string().max(max);
const WaIdSchema = z.string().regex(/^[1-9]\d{4,19}$/, "must be a WhatsApp id (the sender's phone number, digits only)");
/** Two-letter country code, a dot, then up to 128 alphanumerics; parent BSUIDs put "ENT." in between. */
const BsuidSchema = z.string().regex(/^[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}$/, 'must be a business-scoped user id such as "US.13491208655302741918"');
const isBsuid = (value: string): boolean => /^[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}$/.test(value);
const UnixSecondsSchema = z.union([z.string().regex(/^\d{1,11}$/, 'must be a Unix time in seconds'), z.number().int().nonnegative().max(99_999_999_999)]);

const ProfileSchema = z.object({ name: text(256).optional(), username: text(256).optional() }).passthrough();
const ContactSchema = z
  .object({ wa_id: WaIdSchema.optional(), user_id: BsuidSchema.optional(), parent_user_id: BsuidSchema.optional(), profile: ProfileSchema.optional() })
  .passthrough();

const MediaSchema = z
  .object({
    id: id(256),
    mime_type: text(256).optional(),
    sha256: text(256).optional(),
    caption: text(4096).optional(),
    filename: text(512).optional(),
  })
  .passthrough();

const SharedContactSchema = z
  .object({
    name: z.object({ formatted_name: text(256).optional(), first_name: text(256).optional(), last_name: text(256).optional() }).passthrough().optional(),
    phones: z.array(z.object({ phone: text(64).optional(), wa_id: text(64).optional() }).passthrough()).max(20).optional(),
    emails: z.array(z.object({ email: text(256).optional() }).passthrough()).max(20).optional(),
  })
  .passthrough();

const ReplySchema = z.object({ id: text(256), title: text(1024), description: text(1024).optional() }).passthrough();

const MessageSchema = z
  .object({
    id: id(512),
    from: WaIdSchema.optional(),
    from_user_id: BsuidSchema.optional(),
    timestamp: UnixSecondsSchema,
    type: text(64),
    text: z.object({ body: text(65_536) }).passthrough().optional(),
    image: MediaSchema.optional(),
    video: MediaSchema.optional(),
    audio: MediaSchema.optional(),
    document: MediaSchema.optional(),
    sticker: MediaSchema.optional(),
    location: z
      .object({
        latitude: z.number().finite(),
        longitude: z.number().finite(),
        name: text(1024).optional(),
        address: text(1024).optional(),
        url: text(2048).optional(),
      })
      .passthrough()
      .optional(),
    contacts: z.array(SharedContactSchema).max(50).optional(),
    interactive: z
      .object({ type: text(64), button_reply: ReplySchema.optional(), list_reply: ReplySchema.optional() })
      .passthrough()
      .optional(),
    button: z.object({ payload: text(1024).optional(), text: text(1024) }).passthrough().optional(),
    reaction: z.object({ message_id: id(512), emoji: text(64).optional() }).passthrough().optional(),
    context: z.object({ from: text(64).optional(), id: text(512).optional() }).passthrough().optional(),
    system: z.object({ body: text(4096).optional() }).passthrough().optional(),
    edit: z.object({ original_message_id: id(512), message: z.record(z.string(), z.unknown()) }).passthrough().optional(),
  })
  .passthrough();

const StatusSchema = z
  .object({
    id: id(512),
    status: text(64),
    timestamp: UnixSecondsSchema.optional(),
    recipient_id: text(64).optional(),
    recipient_user_id: text(256).optional(),
    errors: z.array(z.object({ code: z.number().optional(), title: text(1024).optional() }).passthrough()).max(20).optional(),
  })
  .passthrough();

const ValueSchema = z
  .object({
    messaging_product: z.literal('whatsapp').optional(),
    metadata: z.object({ display_phone_number: text(64).optional(), phone_number_id: id(256) }).passthrough(),
    contacts: z.array(ContactSchema).max(1000).optional(),
    messages: z.array(MessageSchema).max(1000).optional(),
    statuses: z.array(StatusSchema).max(1000).optional(),
  })
  .passthrough()
  .superRefine((value, ctx) => {
    value.messages?.forEach((message, i) => {
      const { waId, bsuid } = senderOf(value.contacts, message);
      if (!waId && !bsuid) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['messages', i, 'from'],
          message: 'needs the sender: from (wa_id) or from_user_id (BSUID), or a contacts entry that gives one',
        });
      }
    });
  });
type Value = z.output<typeof ValueSchema>;
type WaMessage = z.output<typeof MessageSchema>;
type WaContact = z.output<typeof ContactSchema>;

const DeliverySchema = z
  .object({
    object: z.string().refine((o) => o === 'whatsapp_business_account', {
      message: 'must be "whatsapp_business_account": this is not a WhatsApp Cloud API webhook delivery',
    }),
    entry: z
      .array(
        z
          .object({
            id: id(256),
            changes: z.array(z.object({ field: text(128), value: z.unknown() }).passthrough()).max(1000),
          })
          .passthrough(),
      )
      .max(1000),
  })
  .passthrough();

/** Parses a part of the delivery, naming the field by its full path in the delivery. */
function parseAt<S extends z.ZodTypeAny>(schema: S, input: unknown, path: (string | number)[]): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw invalidInput('WhatsApp delivery', new z.ZodError(result.error.issues.map((issue) => ({ ...issue, path: [...path, ...issue.path] }))));
}

function senderOf(contacts: WaContact[] | undefined, message: WaMessage): { waId?: string; bsuid?: string; parentBsuid?: string; contact?: WaContact } {
  const contact =
    contacts?.find((c) => (message.from && c.wa_id === message.from) || (message.from_user_id && c.user_id === message.from_user_id)) ??
    (contacts?.length === 1 ? contacts[0] : undefined);
  return { waId: message.from ?? contact?.wa_id, bsuid: message.from_user_id ?? contact?.user_id, parentBsuid: contact?.parent_user_id, contact };
}

// ---------------------------------------------------------------------------------------------
// Inbound
// ---------------------------------------------------------------------------------------------

const MEDIA_TYPES = ['image', 'video', 'audio', 'document', 'sticker'] as const;
const STATUSES = ['sent', 'delivered', 'read', 'failed'] as const;

const defined = <T extends Record<string, unknown>>(record: T): Partial<T> =>
  Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as Partial<T>;

function sharedContactText(contacts: NonNullable<WaMessage['contacts']>): string {
  const people = contacts.map((c) => {
    const name = c.name?.formatted_name || [c.name?.first_name, c.name?.last_name].filter(Boolean).join(' ') || 'unnamed';
    const phones = (c.phones ?? []).map((p) => p.phone).filter(Boolean);
    return phones.length ? `${name} (${phones.join(', ')})` : name;
  });
  return `Shared contact: ${people.join('; ')}`;
}

function locationText(location: NonNullable<WaMessage['location']>): string {
  const label = [location.name, location.address].filter((s) => s && s.trim()).join(', ');
  return `Location: ${label ? `${label} ` : ''}(${location.latitude}, ${location.longitude})`;
}

/** The readable text of a message and what else the flow needs to know about it. */
function content(message: WaMessage): { text: string; attachments: Attachment[]; extra: Record<string, unknown> } {
  const extra: Record<string, unknown> = {};
  const attachments: Attachment[] = [];
  let body = '';
  for (const type of MEDIA_TYPES) {
    const media = message[type];
    if (!media) continue;
    // Webhooks carry no URL: the media id is fetched with GET /{media-id} (and the token) when needed.
    attachments.push(defined({ name: media.filename, contentType: media.mime_type, caption: media.caption }));
    extra.media = [...((extra.media as unknown[]) ?? []), defined({ type, id: media.id, mimeType: media.mime_type, sha256: media.sha256, filename: media.filename })];
    if (media.caption && !body) body = media.caption;
  }
  if (message.text) body = message.text.body;
  if (message.location) {
    body = locationText(message.location);
    extra.location = defined({ latitude: message.location.latitude, longitude: message.location.longitude, name: message.location.name, address: message.location.address, url: message.location.url });
  }
  if (message.contacts?.length) {
    body = sharedContactText(message.contacts);
    extra.sharedContacts = message.contacts;
  }
  if (message.interactive) {
    const reply = message.interactive.button_reply ?? message.interactive.list_reply;
    if (reply) {
      body = reply.title;
      extra.reply = defined({ type: message.interactive.type, id: reply.id, title: reply.title, description: reply.description });
    }
  }
  if (message.button) {
    body = message.button.text;
    extra.reply = defined({ type: 'button', payload: message.button.payload, title: message.button.text });
  }
  if (message.reaction) {
    const { message_id: messageId, emoji } = message.reaction;
    body = emoji ? `Reacted ${emoji} to ${messageId}` : `Removed the reaction to ${messageId}`;
    extra.reaction = defined({ message_id: messageId, emoji: emoji || undefined });
  }
  if (message.system?.body && !body) body = message.system.body;
  return { text: body, attachments, extra };
}

/** The message an edit carries, read like any message (the edit's own id, time and sender). */
function editedContent(message: WaMessage, path: (string | number)[]): WaMessage | undefined {
  if (message.type !== 'edit' || !message.edit) return undefined;
  const inner = message.edit.message;
  return parseAt(MessageSchema, { ...inner, id: message.id, timestamp: message.timestamp, from: message.from, from_user_id: message.from_user_id, context: undefined }, [...path, 'edit', 'message']);
}

function toMessage(value: Value, message: WaMessage, wabaId: string, path: (string | number)[]): MessageInput {
  const { waId, bsuid, parentBsuid, contact } = senderOf(value.contacts, message);
  const handles: HandleInput[] = [];
  if (waId) {
    handles.push({ kind: 'phone', value: waId, trust: 'channel' });
    handles.push({ kind: 'whatsapp_id', scope: wabaId, value: waId, trust: 'channel' });
  }
  if (bsuid) handles.push({ kind: 'whatsapp_bsuid', scope: wabaId, value: bsuid, trust: 'channel' });
  const username = contact?.profile?.username?.trim().replace(/^@/, '');
  if (username) handles.push({ kind: 'username', scope: 'whatsapp', value: username, trust: 'asserted' });
  const phoneNumberId = value.metadata.phone_number_id;
  const to = (waId ?? bsuid) as string;
  const edited = editedContent(message, path);
  const { text: body, attachments, extra } = content(edited ?? message);
  const name = contact?.profile?.name?.trim();
  const answered = edited ? undefined : message.context?.id;
  return {
    channel: 'whatsapp',
    channelAccount: phoneNumberId,
    providerMessageId: edited ? message.edit!.original_message_id : message.id,
    ...(edited ? { editedAt: Number(message.timestamp) * 1000 } : {}),
    ...(answered ? { inReplyTo: [answered] } : {}),
    threadKey: to,
    from: { handles, ...(name ? { name } : {}) },
    text: body,
    attachments,
    sentAt: Number(message.timestamp) * 1000,
    replyTo: { to, phoneNumberId },
    metadata: defined({
      type: message.type,
      wabaId,
      displayPhoneNumber: value.metadata.display_phone_number,
      waId,
      bsuid,
      parentBsuid,
      username: contact?.profile?.username,
      profileName: contact?.profile?.name,
      context: message.context,
      ...(edited ? { editId: message.id } : {}),
      ...extra,
    }),
    raw: message,
  };
}

function toStatus(value: Value, status: z.output<typeof StatusSchema>): StatusUpdateInput | undefined {
  if (!(STATUSES as readonly string[]).includes(status.status)) return undefined; // e.g. "deleted", "played": not tracked
  const s = status as Record<string, unknown>;
  return {
    channel: 'whatsapp',
    channelAccount: value.metadata.phone_number_id,
    providerMessageId: status.id,
    status: status.status as (typeof STATUSES)[number],
    ...(status.timestamp !== undefined ? { at: Number(status.timestamp) * 1000 } : {}),
    details: defined({
      recipient_id: status.recipient_id,
      recipient_user_id: status.recipient_user_id,
      errors: status.errors,
      conversation: s.conversation,
      pricing: s.pricing,
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Outbound
// ---------------------------------------------------------------------------------------------

const RATE_LIMIT_CODES = new Set([4, 80007, 130429, 131048, 131056]);

function graphError(error: unknown): OmnithreadError {
  const headers = (error as AxiosError).response?.headers;
  return providerError('WhatsApp', error, (status, body) => {
    const e = (body as { error?: { code?: unknown; error_subcode?: unknown; message?: unknown; fbtrace_id?: unknown } } | undefined)?.error;
    const code = typeof e?.code === 'number' ? e.code : Number(e?.code);
    if (!e || !Number.isFinite(code)) return undefined;
    const said = typeof e.message === 'string' ? e.message : '';
    const details = { provider: 'WhatsApp', status, code, subcode: e.error_subcode, fbtraceId: e.fbtrace_id, response: body };
    if (code === 131047) {
      return new OmnithreadError(
        'WINDOW_CLOSED',
        `WhatsApp refused the message: the 24-hour customer service window is closed (the customer has not written in the last 24 hours), so only an approved template can be sent (${code}: ${said})`,
        { details },
      );
    }
    if (code === 190) return new OmnithreadError('AUTH_FAILED', `WhatsApp refused the access token: it is invalid or expired (${code}: ${said})`, { details });
    if (RATE_LIMIT_CODES.has(code)) {
      const retry = retryAfterSeconds(headers?.['retry-after']);
      return new OmnithreadError('RATE_LIMITED', `WhatsApp rate limit reached (${code}: ${said})${retry !== undefined ? `: retry after ${retry} s` : ''}`, {
        details: { ...details, retryAfterSeconds: retry },
      });
    }
    return undefined;
  });
}

const bad = (field: string, message: string) => new OmnithreadError('INVALID_INPUT', `Invalid WhatsApp message: ${field} ${message}`, { field });

/** The JSON body of POST /{phone-number-id}/messages for a request (exported for tests and the Reply node). */
export function whatsappMessageBody(request: OutboundRequest): Record<string, unknown> {
  const to = request.to?.to;
  if (typeof to !== 'string' || !to.trim()) throw bad('to.to', 'must be the wa_id or BSUID from the message\'s replyTo');
  const recipient = isBsuid(to.trim()) ? { recipient: to.trim() } : { to: to.trim().replace(/^\+/, '') };
  const base = { messaging_product: 'whatsapp', recipient_type: 'individual', ...recipient };
  const textBody = request.text ?? '';
  if (request.template) {
    const { name, language, parameters } = request.template;
    if (!name?.trim()) throw bad('template.name', 'must name an approved template');
    if (!language?.trim()) throw bad('template.language', 'must be a language code such as "en_US"');
    return {
      ...base,
      type: 'template',
      template: {
        name,
        language: { code: language },
        ...(parameters?.length ? { components: [{ type: 'body', parameters: parameters.map((p) => ({ type: 'text', text: String(p) })) }] } : {}),
      },
    };
  }
  if (request.media) {
    const { url, type, filename } = request.media;
    if (!['image', 'video', 'audio', 'document'].includes(type)) throw bad('media.type', 'must be image, video, audio or document');
    if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) throw bad('media.url', 'must be an http(s) URL WhatsApp can download');
    const caption = request.media.caption ?? (textBody || undefined);
    if (type === 'audio' && caption) throw bad('media.caption', 'is not possible on WhatsApp audio messages: send the text as a message of its own');
    return {
      ...base,
      type,
      [type]: defined({ link: url, caption: type === 'audio' ? undefined : caption, filename: type === 'document' ? filename : undefined }),
    };
  }
  if (!textBody.trim()) throw bad('text', 'must not be empty');
  if (textBody.length > 4096) throw bad('text', 'must be at most 4096 characters on WhatsApp');
  return { ...base, type: 'text', text: { body: textBody, preview_url: /https?:\/\//i.test(textBody) } };
}

async function send(request: OutboundRequest, sendConfig: unknown, http: AxiosInstance): Promise<SendResult> {
  const config = parseInput(WhatsAppSendConfigSchema, sendConfig, 'WhatsApp send settings');
  const body = whatsappMessageBody(request);
  const fromReply = typeof request.to?.phoneNumberId === 'string' ? request.to.phoneNumberId.trim() : '';
  const phoneNumberId = fromReply || config.phoneNumberId;
  if (!phoneNumberId) throw bad('to.phoneNumberId', 'is missing: set the phone number id in the send settings or reply to a WhatsApp message');
  const url = `${config.apiBaseUrl.replace(/\/+$/, '')}/${config.apiVersion}/${encodeURIComponent(phoneNumberId)}/messages`;
  let response;
  try {
    response = await http.post(url, body, {
      headers: { Authorization: `Bearer ${config.accessToken}`, 'Content-Type': 'application/json' },
    });
  } catch (error) {
    throw graphError(error);
  }
  const messageId = (response.data as { messages?: { id?: unknown }[] } | undefined)?.messages?.[0]?.id;
  if (typeof messageId !== 'string' || !messageId) {
    throw new OmnithreadError('PROVIDER_ERROR', 'WhatsApp answered without a message id', { details: { provider: 'WhatsApp', status: response.status, response: response.data, delivery: 'unknown' } });
  }
  return { providerMessageId: messageId, response: response.data };
}

// ---------------------------------------------------------------------------------------------
// The module
// ---------------------------------------------------------------------------------------------

export const whatsappChannel: SyncChannelModule<WhatsAppChannelConfig> = {
  id: 'whatsapp',
  displayName: 'WhatsApp Cloud API',
  description: "Meta's WhatsApp Business Platform: messages and delivery statuses in, replies and templates out",
  configSchema: WhatsAppChannelConfigSchema,
  settings: Object.keys(WhatsAppChannelConfigSchema.shape),
  secrets: ['appSecret', 'verifyToken'],
  settingFields: [
    {
      name: 'appSecret',
      displayName: 'App Secret',
      description:
        "The Meta app's secret (App settings > Basic): every delivery is signed with it in X-Hub-Signature-256. Deliveries with a missing or wrong signature get 401 and are not stored.",
      secret: true,
      required: true,
    },
    {
      name: 'verifyToken',
      displayName: 'Verify Token',
      description: "Any string you choose, typed again as the Verify Token in the app's WhatsApp > Configuration > Webhook: Meta's GET handshake is answered only when it matches",
      secret: true,
      required: true,
    },
    {
      name: 'phoneNumberId',
      displayName: 'Phone Number ID',
      description: 'Only messages to this business phone number ID (WhatsApp > API Setup); empty = every number of the app. Others are acknowledged and not recorded.',
      placeholder: '106540352242922',
    },
  ],
  sendFields: [
    { name: 'accessToken', displayName: 'Access Token', description: 'A system user access token with whatsapp_business_messaging', secret: true, required: true },
    { name: 'phoneNumberId', displayName: 'Phone Number ID', description: 'The business number to send from, when the reply address names none' },
    { name: 'apiVersion', displayName: 'API Version', description: 'The Graph API version', default: WHATSAPP_DEFAULT_API_VERSION },
    { name: 'apiBaseUrl', displayName: 'API Base URL', description: 'Where the Cloud API is', default: 'https://graph.facebook.com' },
  ],

  challenge: (request, config) => metaChallenge(request, config.verifyToken),
  verify: (request, config) => metaVerify(request, config.appSecret),

  parse(request, config) {
    const delivery = parseAt(DeliverySchema, parseJsonBody(request), []);
    const items: InboundItem[] = [];
    delivery.entry.forEach((entry, e) => {
      entry.changes.forEach((change, c) => {
        if (change.field !== 'messages') return;
        const path = ['entry', e, 'changes', c, 'value'];
        const value = parseAt(ValueSchema, change.value, path);
        if (config.phoneNumberId && value.metadata.phone_number_id !== config.phoneNumberId) return;
        value.messages?.forEach((message, m) => {
          // The schema above guarantees a valid item; checked again so a gap is a 400, never a stored half-message.
          const input = toMessage(value, message, entry.id, [...path, 'messages', m]);
          parseAt(MessageInputSchema, input, [...path, 'messages', m]);
          items.push({ type: 'message', message: input });
        });
        value.statuses?.forEach((status, s) => {
          const update = toStatus(value, status);
          if (!update) return;
          parseAt(StatusUpdateInputSchema, update, [...path, 'statuses', s]);
          items.push({ type: 'status', status: update });
        });
      });
    });
    return items;
  },

  sendConfigSchema: WhatsAppSendConfigSchema,
  send,
};
