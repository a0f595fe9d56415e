/**
 * The model: one zod schema per concept, and every type derived from its schema.
 * Input schemas (what callers hand us) validate and fill defaults; record schemas describe what we return.
 */
import { z } from 'zod';
import { invalidInput } from './errors';

// ---------------------------------------------------------------------------------------------
// Handles
// ---------------------------------------------------------------------------------------------

/** Handles that identify a person everywhere. */
export const GLOBAL_HANDLE_KINDS = ['email', 'phone', 'account'] as const;
/**
 * Handles that only mean something inside a scope (a bot, a page, a business number, a site):
 * the same Telegram user id under two bots is two different handles.
 */
export const SCOPED_HANDLE_KINDS = [
  'telegram_user', // Telegram user id, scope = bot id
  'whatsapp_id', // WhatsApp wa_id, scope = business (WABA) id
  'whatsapp_bsuid', // WhatsApp business-scoped user id, scope = business id
  'messenger_psid', // page-scoped id, scope = page id
  'instagram_igsid', // Instagram-scoped id, scope = Instagram account id
  'x_user', // X user id, scope = the X app / account
  'webchat_visitor', // web-chat visitor id, scope = site
  'external_id', // any other system's id, scope = that system
  'username', // a chosen name (Telegram, X, WhatsApp username), scope = the network; names change hands, so asserted at most
] as const;
export const HANDLE_KINDS = [...GLOBAL_HANDLE_KINDS, ...SCOPED_HANDLE_KINDS] as const;
export const HandleKindSchema = z.enum(HANDLE_KINDS);
export type HandleKind = z.infer<typeof HandleKindSchema>;

export function isScopedKind(kind: HandleKind): boolean {
  return (SCOPED_HANDLE_KINDS as readonly string[]).includes(kind);
}

/**
 * How much a handle can be believed: `verified` (signed identity, e.g. a web-chat user hash),
 * `channel` (the channel vouches for it, e.g. the phone of a WhatsApp sender) or `asserted`
 * (typed by the customer).
 */
export const TRUST_LEVELS = ['asserted', 'channel', 'verified'] as const;
export const TrustSchema = z.enum(TRUST_LEVELS);
export type Trust = z.infer<typeof TrustSchema>;
export const trustRank = (trust: Trust): number => TRUST_LEVELS.indexOf(trust);
export const minTrust = (a: Trust, b: Trust): Trust => (trustRank(a) <= trustRank(b) ? a : b);
export const maxTrust = (a: Trust, b: Trust): Trust => (trustRank(a) >= trustRank(b) ? a : b);

export const HandleInputSchema = z
  .object({
    kind: HandleKindSchema,
    value: z.string().trim().min(1, 'must not be empty').max(512),
    scope: z.string().trim().min(1).max(256).optional(),
    trust: TrustSchema.default('asserted'),
  })
  .strict()
  .superRefine((handle, ctx) => {
    if (isScopedKind(handle.kind) && !handle.scope) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['scope'],
        message: `a ${handle.kind} handle needs a scope (the bot, page, business or site it belongs to)`,
      });
    }
    if (!isScopedKind(handle.kind) && handle.scope) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['scope'], message: `a ${handle.kind} handle is global and takes no scope` });
    }
  });
export type HandleInput = z.input<typeof HandleInputSchema>;

/** A normalised handle: the value is canonical (lower-case email, E.164 phone) and scope is '' for global kinds. */
export interface Handle {
  kind: HandleKind;
  value: string;
  scope: string;
  trust: Trust;
}

export const handleKey = (h: Pick<Handle, 'kind' | 'scope' | 'value'>): string =>
  h.scope ? `${h.kind}:${h.scope}:${h.value}` : `${h.kind}:${h.value}`;

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

export const KNOWN_CHANNELS = [
  'webchat',
  'email',
  'whatsapp',
  'messenger',
  'instagram',
  'telegram',
  'sms',
  'voice',
  'x',
  'generic',
] as const;
export const ChannelSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,31}$/, 'must be a channel name such as "email", "whatsapp" or "generic" (lower-case letters, digits, - and _)');
export type Channel = z.infer<typeof ChannelSchema>;

/** Timestamps are accepted as ISO-8601 strings or epoch milliseconds, and always returned as ISO strings. */
export const TimestampSchema = z.union([
  z.string().datetime({ offset: true, message: 'must be an ISO-8601 date-time such as 2026-11-24T10:00:00Z' }),
  z.number().int().nonnegative(),
]);

export const AttachmentSchema = z
  .object({
    url: z.string().max(4096).optional(),
    name: z.string().max(512).optional(),
    contentType: z.string().max(256).optional(),
    size: z.number().int().nonnegative().optional(),
    caption: z.string().max(4096).optional(),
  })
  .strict();
export type Attachment = z.infer<typeof AttachmentSchema>;

const JsonRecordSchema = z.record(z.string(), z.unknown());

/** Provider message ids (an email's Message-IDs, a chat message id): what a message answers or belongs to. */
const ProviderIdsSchema = z.array(z.string().trim().min(1).max(998)).max(100);

export const MessageInputSchema = z
  .object({
    channel: ChannelSchema,
    /** Which bot, page, number or mailbox received it: part of the idempotency key. */
    channelAccount: z.string().max(256).default(''),
    /** The provider's id for this message: the idempotency key within (channel, channelAccount). */
    providerMessageId: z.string().trim().min(1, 'must not be empty').max(512),
    /**
     * `call` for a phone call (recorded on the timeline like a message, as a call); `interaction` for a
     * button pressed or a menu chosen (its data as the text): on the timeline, never counted as something
     * the customer said.
     */
    kind: z.enum(['message', 'call', 'interaction']).default('message'),
    /**
     * `outbound` when the channel saw one of our own messages (an agent answering from the support
     * mailbox, a human replying in the page inbox): recorded on the customer's timeline as ours. The core
     * also treats mail from the store settings' own addresses as outbound.
     */
    direction: z.enum(['inbound', 'outbound']).default('inbound'),
    /** The provider's thread (email thread, chat id): lets a reply find its conversation. */
    threadKey: z.string().max(1024).optional(),
    /**
     * The provider ids of the messages this one answers (In-Reply-To and References, a chat reply's quoted
     * message): a reply continues that message's conversation, even after it went idle.
     */
    inReplyTo: ProviderIdsSchema.optional(),
    /** Set when this delivery is an edit of providerMessageId made at this time: the timeline item is updated in place. */
    editedAt: TimestampSchema.optional(),
    from: z
      .object({
        handles: z.array(HandleInputSchema).min(1, 'needs at least one handle (email, phone, account or a channel id)').max(32),
        name: z.string().trim().max(256).optional(),
        /** What the sender told about themselves beyond identities (pre-chat form fields): merged into the contact's attributes. */
        attributes: JsonRecordSchema.optional(),
      })
      .strict(),
    /** The recipients (To and Cc of an email): who an outbound message went to. */
    to: z.object({ handles: z.array(HandleInputSchema).max(100) }).strict().optional(),
    text: z.string().max(200_000).default(''),
    attachments: z.array(AttachmentSchema).max(100).default([]),
    sentAt: TimestampSchema.optional(),
    receivedAt: TimestampSchema.optional(),
    /** Where a reply goes on this channel (chat id, address, phone number...). */
    replyTo: JsonRecordSchema.optional(),
    metadata: JsonRecordSchema.optional(),
    /** The provider's payload as received. Optional, and erased with the contact. */
    raw: z.unknown().optional(),
  })
  .strict();
export type MessageInput = z.input<typeof MessageInputSchema>;
export type Message = z.output<typeof MessageInputSchema>;

/**
 * What happened to something recorded earlier (our outbound message, or a call): delivered, read,
 * failed, a call answered or completed. Recorded on the same person's timeline, once per status.
 */
export const STATUS_VALUES = ['sent', 'delivered', 'read', 'failed', 'queued', 'ringing', 'in-progress', 'completed', 'busy', 'no-answer', 'canceled'] as const;
export const StatusUpdateInputSchema = z
  .object({
    channel: ChannelSchema,
    channelAccount: z.string().max(256).default(''),
    /** The provider's id of the message or call the status is about. */
    providerMessageId: z.string().trim().min(1, 'must not be empty').max(512).optional(),
    /**
     * Instead of one id, a watermark (Messenger and Instagram read and delivery receipts): every message we
     * sent to `recipient` on this channel account up to this time has this status.
     */
    upTo: TimestampSchema.optional(),
    /** With upTo: the customer the receipt is from (their channel handle). */
    recipient: HandleInputSchema.optional(),
    status: z.enum(STATUS_VALUES),
    at: TimestampSchema.optional(),
    /** Provider details: error code and title, call duration, pricing... */
    details: JsonRecordSchema.default({}),
  })
  .strict()
  .superRefine((update, ctx) => {
    if (update.providerMessageId === undefined && (update.upTo === undefined || update.recipient === undefined)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['providerMessageId'], message: 'is required (or a watermark: upTo with the recipient)' });
    }
  });
export type StatusUpdateInput = z.input<typeof StatusUpdateInputSchema>;

export const OutboundMessageInputSchema = z
  .object({
    channel: ChannelSchema,
    channelAccount: z.string().max(256).default(''),
    /** The provider's id of the sent message, or a key of yours: makes recording idempotent. */
    providerMessageId: z.string().trim().min(1).max(512).optional(),
    conversationId: z.string().max(64).optional(),
    threadKey: z.string().max(1024).optional(),
    text: z.string().max(200_000).default(''),
    attachments: z.array(AttachmentSchema).max(100).default([]),
    author: z
      .object({ id: z.string().max(256).optional(), name: z.string().max(256).optional(), type: z.enum(['human', 'ai', 'system']).default('human') })
      .strict()
      .optional(),
    sentAt: TimestampSchema.optional(),
    metadata: JsonRecordSchema.optional(),
  })
  .strict();
export type OutboundMessageInput = z.input<typeof OutboundMessageInputSchema>;

// ---------------------------------------------------------------------------------------------
// Timeline
// ---------------------------------------------------------------------------------------------

/** Event kinds Omnithread writes itself; callers may not append them by hand. */
export const SYSTEM_EVENT_KINDS = [
  'message',
  'call',
  'interaction',
  'status',
  'channel_switch',
  'merge',
  'unmerge',
  'conversation_opened',
  'conversation_closed',
  'conversation_reopened',
] as const;
/** The events of a handoff's life (routing/handoff.ts folds them into its state; the desk reads them by kind). */
export const HANDOFF_EVENT_KINDS = ['handoff', 'handoff_offered', 'handoff_expired', 'handoff_accepted', 'handoff_released', 'handoff_resolved'] as const;

/** Kinds a caller may append, besides any custom kind of their own (order_placed, csat...). */
export const APPENDABLE_EVENT_KINDS = ['note', 'assignment', 'handoff', 'status_change'] as const;

export const EventKindSchema = z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/, 'must be an event kind such as "note" or "order_placed"');

export const AppendEventInputSchema = z
  .object({
    kind: EventKindSchema.refine((k) => !(SYSTEM_EVENT_KINDS as readonly string[]).includes(k), {
      message: `is written by Omnithread itself; append messages with recordOutbound or ingest`,
    }),
    text: z.string().max(200_000).default(''),
    channel: ChannelSchema.optional(),
    conversationId: z.string().max(64).optional(),
    occurredAt: TimestampSchema.optional(),
    data: JsonRecordSchema.default({}),
    /** Makes appending idempotent: a second append with the same key returns the first event. */
    idempotencyKey: z.string().min(1).max(512).optional(),
  })
  .strict();
export type AppendEventInput = z.input<typeof AppendEventInputSchema>;

export const DirectionSchema = z.enum(['inbound', 'outbound']);
export type Direction = z.infer<typeof DirectionSchema>;

export const TimelineEventSchema = z.object({
  id: z.string(),
  seq: z.number().int(),
  workspace: z.string(),
  contactId: z.string(),
  conversationId: z.string().nullable(),
  kind: z.string(),
  channel: z.string().nullable(),
  channelAccount: z.string().nullable(),
  direction: DirectionSchema.nullable(),
  text: z.string(),
  occurredAt: z.string(),
  recordedAt: z.string(),
  providerMessageId: z.string().nullable(),
  threadKey: z.string().nullable(),
  data: JsonRecordSchema,
});
export type TimelineEvent = z.infer<typeof TimelineEventSchema>;

export const ConversationStatusSchema = z.enum(['open', 'resolved', 'idle']);
export const ConversationSchema = z.object({
  id: z.string(),
  workspace: z.string(),
  contactId: z.string(),
  status: ConversationStatusSchema,
  channels: z.array(z.string()),
  lastChannel: z.string().nullable(),
  messageCount: z.number().int(),
  openedAt: z.string(),
  lastActivityAt: z.string(),
  closedAt: z.string().nullable(),
});
export type Conversation = z.infer<typeof ConversationSchema>;

export const IdentitySchema = z.object({
  kind: HandleKindSchema,
  value: z.string(),
  scope: z.string().nullable(),
  trust: TrustSchema,
  /** The contact that holds the handle (differs from the contact asked for when it came with a merge). */
  contactId: z.string(),
  /** Set when the value is shared by several people (a landline, a role mailbox): it never links two contacts. */
  shared: z.string().optional(),
  firstSeenAt: z.string(),
  lastSeenAt: z.string(),
});
export type Identity = z.infer<typeof IdentitySchema>;

export const ContactSchema = z.object({
  id: z.string(),
  workspace: z.string(),
  name: z.string().nullable(),
  attributes: JsonRecordSchema,
  /** Set when this contact was merged into another: that contact is the one to use. */
  mergedInto: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Contact = z.infer<typeof ContactSchema>;

/** A contact as callers see it: the survivor, with every identity of every contact merged into it. */
export interface ContactView extends Contact {
  identities: Identity[];
  mergedContactIds: string[];
}

// ---------------------------------------------------------------------------------------------
// Validation helper
// ---------------------------------------------------------------------------------------------

/** Parses input with a schema, or throws an INVALID_INPUT error naming every bad field. */
export function parseInput<S extends z.ZodTypeAny>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw invalidInput(what, result.error);
  return result.data;
}

export const toIso = (ms: number): string => new Date(ms).toISOString();
export const toMs = (value: string | number | undefined, fallback: number): number =>
  value === undefined ? fallback : typeof value === 'number' ? value : Date.parse(value);
