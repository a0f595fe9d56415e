/**
 * The generic JSON channel: for any system that can POST JSON (a form, a help desk, a CRM, another
 * workflow). The body is one message, an array of them, or `{ "messages": [...] }`:
 *
 *   {
 *     "messageId": "ticket-123-4",                 required: the idempotency key
 *     "channel": "zendesk",                        optional: defaults to the node's channel name
 *     "account": "brand-eu",                       optional: which inbox/brand/number received it
 *     "threadKey": "ticket-123",                   optional
 *     "from": {
 *       "name": "Maya Lindqvist",
 *       "email": "maya@fastmail.fm",               shorthand handles, trusted at the node's default trust
 *       "phone": "+447911123456",
 *       "accountId": "cust-981",
 *       "handles": [{ "kind": "webchat_visitor", "scope": "shop", "value": "v-7f3a", "trust": "verified" }]
 *     },
 *     "text": "My parcel never arrived",
 *     "attachments": [{ "url": "https://...", "name": "photo.jpg", "contentType": "image/jpeg" }],
 *     "sentAt": "2026-11-24T10:00:00Z", "replyTo": { ... }, "metadata": { ... }
 *   }
 *
 * With a secret set, the sender signs the raw body: header `X-Omnithread-Signature: sha256=<hex>` where
 * <hex> = HMAC-SHA256(secret, raw body) (the `sha256=` prefix is optional), as GitHub and Meta do.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { AttachmentSchema, ChannelSchema, HandleInput, HandleInputSchema, MessageInput, TimestampSchema, TrustSchema, parseInput } from '../model';
import { parseJsonBody } from './body';
import { SyncChannelModule, InboundItem, header } from './channel';

export const GenericChannelConfigSchema = z
  .object({
    /** Shared secret for the HMAC-SHA256 signature; empty = unsigned deliveries are accepted. */
    secret: z.string().default(''),
    signatureHeader: z.string().min(1).default('x-omnithread-signature'),
    /** The channel name recorded when the body does not give one. */
    channelName: ChannelSchema.default('generic'),
    /** Trust of the shorthand handles (email, phone, accountId): does the sending system vouch for them? */
    defaultTrust: TrustSchema.default('channel'),
  })
  .strict();
export type GenericChannelConfig = z.output<typeof GenericChannelConfigSchema>;

const GenericMessageSchema = z
  .object({
    messageId: z.union([z.string().trim().min(1, 'must not be empty'), z.number()]).transform(String),
    channel: ChannelSchema.optional(),
    account: z.string().max(256).optional(),
    threadKey: z.string().max(1024).optional(),
    from: z
      .object({
        name: z.string().max(256).optional(),
        email: z.string().min(1).max(512).optional(),
        phone: z.string().min(1).max(64).optional(),
        accountId: z.union([z.string().min(1).max(512), z.number()]).transform(String).optional(),
        handles: z.array(HandleInputSchema).max(32).optional(),
      })
      .strict()
      .refine((f) => Boolean(f.email || f.phone || f.accountId || f.handles?.length), {
        message: 'needs at least one of email, phone, accountId or handles',
      }),
    text: z.string().max(200_000).default(''),
    attachments: z.array(AttachmentSchema).max(100).optional(),
    sentAt: TimestampSchema.optional(),
    replyTo: z.record(z.string(), z.unknown()).optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type GenericMessage = z.input<typeof GenericMessageSchema>;

const BatchSchema = z.object({ messages: z.array(GenericMessageSchema).min(1, 'must hold at least one message').max(100) }).strict();

/** The signature header value for a body: what a sender must put in X-Omnithread-Signature. */
export function signGeneric(secret: string, rawBody: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

export { parseJsonBody } from './body';

export const genericChannel: SyncChannelModule<GenericChannelConfig> = {
  id: 'generic',
  displayName: 'Generic JSON',
  description: 'Any system that can POST JSON, optionally signed with HMAC-SHA256',
  configSchema: GenericChannelConfigSchema,
  settings: Object.keys(GenericChannelConfigSchema.shape),
  secrets: ['secret'],
  settingFields: [
    {
      name: 'secret',
      displayName: 'Secret',
      description:
        'Shared secret: the sender puts sha256=HMAC-SHA256(secret, raw body) in the signature header. Deliveries with a missing or wrong signature get 401 and are not stored. Empty = no signature check.',
      secret: true,
    },
    { name: 'signatureHeader', displayName: 'Signature Header', description: 'The request header that carries the signature', default: 'x-omnithread-signature' },
    {
      name: 'channelName',
      displayName: 'Channel Name',
      description:
        'The channel recorded for messages whose body gives no "channel" (lower-case letters, digits, - and _), e.g. webchat, email or the name of the sending system',
      default: 'generic',
      placeholder: 'zendesk',
    },
    {
      name: 'defaultTrust',
      displayName: 'Default Trust',
      description: 'How much the email, phone and accountId of "from" are trusted; decides whether they may merge two contacts automatically',
      type: 'options',
      options: [
        { name: 'Asserted', value: 'asserted', description: 'The sender passes on what the customer typed' },
        { name: 'Channel', value: 'channel', description: 'The sending system vouches for the email, phone and account ID it sends' },
        { name: 'Verified', value: 'verified', description: 'The sending system has verified them (e.g. a logged-in customer)' },
      ],
      default: 'channel',
    },
  ],

  verify(request, config) {
    if (!config.secret) return { ok: true };
    const given = header(request, config.signatureHeader);
    if (!given) return { ok: false, status: 401, reason: `missing ${config.signatureHeader} header` };
    const expected = Buffer.from(createHmac('sha256', config.secret).update(request.rawBody).digest('hex'));
    const actual = Buffer.from(given.trim().replace(/^sha256=/i, '').toLowerCase());
    const ok = actual.length === expected.length && timingSafeEqual(actual, expected);
    return ok ? { ok: true } : { ok: false, status: 401, reason: `${config.signatureHeader} does not match the body` };
  },

  parse(request, config) {
    const body = parseJsonBody(request);
    const items = Array.isArray(body)
      ? parseInput(BatchSchema.shape.messages, body, 'messages')
      : body !== null && typeof body === 'object' && 'messages' in body
        ? parseInput(BatchSchema, body, 'messages').messages
        : [parseInput(GenericMessageSchema, body, 'message')];
    return items.map((item): InboundItem => ({ type: 'message', message: toMessage(item, config) }));
  },
};

function toMessage(item: z.output<typeof GenericMessageSchema>, config: GenericChannelConfig): MessageInput {
  const shorthand: HandleInput[] = [];
  if (item.from.email) shorthand.push({ kind: 'email', value: item.from.email, trust: config.defaultTrust });
  if (item.from.phone) shorthand.push({ kind: 'phone', value: item.from.phone, trust: config.defaultTrust });
  if (item.from.accountId) shorthand.push({ kind: 'account', value: item.from.accountId, trust: config.defaultTrust });
  return {
    channel: item.channel ?? config.channelName,
    channelAccount: item.account ?? '',
    providerMessageId: item.messageId,
    threadKey: item.threadKey,
    from: { name: item.from.name, handles: [...shorthand, ...(item.from.handles ?? [])] },
    text: item.text,
    attachments: item.attachments ?? [],
    sentAt: item.sentAt,
    replyTo: item.replyTo,
    metadata: item.metadata,
    // No `raw`: the generic body IS these fields; keeping it again would store every message twice.
  };
}
