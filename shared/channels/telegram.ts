/**
 * Telegram (Bot API, https://core.telegram.org/bots/api). Telegram POSTs one JSON `Update` per delivery
 * to the URL given to `setWebhook`; with a `secret_token` set there, every delivery carries it in the
 * `X-Telegram-Bot-Api-Secret-Token` header. That header is the only proof a delivery comes from
 * Telegram, so this channel refuses every delivery (403) until a secret token is set.
 *
 * Settings:
 *   secretToken  (secret) the setWebhook `secret_token`: 1-256 characters of A-Z a-z 0-9 _ -
 *   botToken     (secret, optional) the bot's token from @BotFather: the bot id is the number before ':';
 *                the trigger also uses it to call setWebhook / deleteWebhook
 *   botId        (optional) the bot's id, when the token is not given here; wins over the token's
 *   One of botToken or botId is required: the bot id scopes Telegram user ids (the same user id under
 *   two bots is two handles) and is the message's channel account.
 *
 * What becomes a message (one Update, one item at most):
 *   message                   providerMessageId `${chat.id}:${message_id}`; a reply to an earlier message
 *                             (reply_to_message) names it in inReplyTo, so it continues that conversation
 *   edited_message            the same providerMessageId with editedAt = edit_date: the core updates the
 *                             original timeline item in place and keeps its earlier text (data.edits)
 *   callback_query            a button pressed: an `interaction` (text = its data), providerMessageId
 *                             `callback:${id}`, never counted as something the customer said
 *   anything else (channel posts, polls, member updates...), updates without `from`, and bots: no item.
 * Identity: the sender's user id (`telegram_user`, scoped to the bot, channel trust) and their username
 * (`username` scoped to 'telegram', asserted: usernames change hands, so they only ever suggest).
 * Groups and supergroups are off unless the node's Groups setting is on (their updates are then
 * acknowledged and not recorded). When on, a group is a party of its own: its messages go to the group's
 * contact (an `external_id` `group:${chat.id}` scoped to `telegram:${botId}`, named after the chat title)
 * in the group's own conversation, never into a member's private conversation; who wrote each message is
 * in metadata.sender.
 * Attachments: Telegram gives file ids, not URLs. An attachment's url is `telegram-file:<file_id>` and
 * metadata.files lists {type, fileId, fileUniqueId} in the same order: download with getFile.
 * replyTo: { chatId } (a number), which is what `send` takes as `to`. threadKey: `${botId}:${chat.id}`: a
 * private chat's id is the user's id under every bot, so the bare chat id would join two bots' users
 * into one thread (and one contact), which the bot scope of their ids exists to prevent.
 *
 * Send settings: botToken (secret), apiBaseUrl (default https://api.telegram.org, for a local Bot API
 * server). Text goes through sendMessage, media by URL through sendPhoto / sendVideo / sendAudio /
 * sendDocument with the caption (media.caption, else the text).
 * Errors: 429 -> RATE_LIMITED with parameters.retry_after; 401, and 404 "Not Found" (what Telegram answers
 * for a malformed token) -> AUTH_FAILED; 403 (the user blocked the bot, deleted their account, or never
 * started it) -> PROVIDER_ERROR with details.reason 'recipient_unreachable': the token works, so it is not
 * AUTH_FAILED, and no waiting reopens it, so it is not WINDOW_CLOSED (a time window); the flow should try
 * another channel. Anything else -> PROVIDER_ERROR.
 */
import type { AxiosError, AxiosInstance } from 'axios';
import { z } from 'zod';
import { OmnithreadError } from '../errors';
import { Attachment, HandleInput, MessageInput, parseInput } from '../model';
import { SyncChannelModule, InboundItem, OutboundRequest, SendResult, header } from './channel';
import { parseJsonBody } from './body';
import { providerError, safeEqual } from './http';

export const TELEGRAM_SECRET_HEADER = 'x-telegram-bot-api-secret-token';
const BOT_TOKEN = /^\d{1,20}:[A-Za-z0-9_-]{1,200}$/;

const BotTokenSchema = z.string().trim().regex(BOT_TOKEN, 'must be a bot token from @BotFather, such as 123456789:AA...');
const SecretTokenSchema = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9_-]{0,256}$/, 'must be 1-256 characters of A-Z, a-z, 0-9, _ and - (what setWebhook accepts)');

const TelegramConfigObject = z
  .object({
    /** setWebhook's secret_token, echoed in X-Telegram-Bot-Api-Secret-Token on every delivery. */
    secretToken: SecretTokenSchema.default(''),
    /** The bot's token: gives the bot id, and lets the trigger register the webhook. */
    botToken: z.union([BotTokenSchema, z.literal('')]).default(''),
    /** The bot's id (the number before ':' in its token). */
    botId: z.union([z.string().trim().regex(/^\d{1,20}$/, 'must be the bot id, the number before ":" in the bot token'), z.literal('')]).default(''),
    /** The Bot API server the trigger registers the webhook with (a local Bot API server, or a test server). */
    apiBaseUrl: z.string().trim().url('must be a URL such as https://api.telegram.org').default('https://api.telegram.org'),
    /** Record group and supergroup messages (each group a party of its own). Off: they are acknowledged and ignored. */
    groups: z.preprocess((v) => (v === 'true' ? true : v === 'false' || v === '' ? false : v), z.boolean()).default(false),
  })
  .strict();

export const TelegramChannelConfigSchema = TelegramConfigObject.superRefine((config, ctx) => {
  if (!config.botId && !config.botToken) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['botId'], message: 'set the bot id or the bot token (the bot id scopes Telegram user ids)' });
  }
});
export type TelegramChannelConfig = z.output<typeof TelegramChannelConfigSchema>;

export const TelegramSendConfigSchema = z
  .object({
    botToken: BotTokenSchema,
    apiBaseUrl: z.string().trim().url('must be a URL such as https://api.telegram.org').default('https://api.telegram.org'),
  })
  .strict();
export type TelegramSendConfig = z.output<typeof TelegramSendConfigSchema>;

/** The bot id: the configured one, else the number before ':' in the token. */
export function telegramBotId(config: Pick<TelegramChannelConfig, 'botId' | 'botToken'>): string {
  return config.botId || config.botToken.split(':')[0];
}

// ---------------------------------------------------------------------------------------------
// Inbound: the Update (https://core.telegram.org/bots/api#update) and what we read of it
// ---------------------------------------------------------------------------------------------

const Id = z.number().int().safe();
const Str = (max: number) => z.string().max(max);
const FileFields = { file_id: Str(1024).min(1), file_unique_id: Str(1024).min(1), file_size: z.number().int().nonnegative().safe().optional() };

const UserSchema = z.object({
  id: Id.positive(),
  is_bot: z.boolean(),
  first_name: Str(1024),
  last_name: Str(1024).optional(),
  username: Str(256).optional(),
  language_code: Str(64).optional(),
});

const ChatSchema = z.object({ id: Id, type: Str(64), title: Str(1024).optional() });

const MessageSchema = z.object({
  message_id: Id.nonnegative(),
  from: UserSchema.optional(),
  chat: ChatSchema,
  reply_to_message: z.object({ message_id: Id.nonnegative() }).optional(),
  date: z.number().int().nonnegative().max(1e11),
  edit_date: z.number().int().nonnegative().max(1e11).optional(),
  text: Str(100_000).optional(),
  caption: Str(4096).optional(),
  photo: z.array(z.object({ ...FileFields, width: z.number().int(), height: z.number().int() })).max(100).optional(),
  document: z.object({ ...FileFields, file_name: Str(512).optional(), mime_type: Str(256).optional() }).optional(),
  video: z.object({ ...FileFields, file_name: Str(512).optional(), mime_type: Str(256).optional() }).optional(),
  audio: z.object({ ...FileFields, file_name: Str(512).optional(), mime_type: Str(256).optional() }).optional(),
  voice: z.object({ ...FileFields, mime_type: Str(256).optional() }).optional(),
  location: z.object({ latitude: z.number(), longitude: z.number() }).optional(),
  contact: z
    .object({ phone_number: Str(64).min(1), first_name: Str(1024), last_name: Str(1024).optional(), user_id: Id.optional() })
    .optional(),
});
type TelegramMessage = z.output<typeof MessageSchema>;

const CallbackQuerySchema = z.object({
  id: Str(256).min(1),
  from: UserSchema,
  // The message with the button; may be "inaccessible" (date 0, no content) but always has its chat.
  message: z.object({ message_id: Id.nonnegative(), chat: ChatSchema }).optional(),
  data: Str(4096).optional(),
  chat_instance: Str(256).optional(),
});

const UpdateSchema = z.object({
  update_id: Id.nonnegative(),
  message: z.unknown().optional(),
  edited_message: z.unknown().optional(),
  callback_query: z.unknown().optional(),
});

/** Validates `value` as the field `field` of a bigger payload, so that errors name the full path. */
export function parseField<S extends z.ZodTypeAny>(schema: S, value: unknown, what: string, field: string): z.output<S> {
  return (parseInput(z.object({ [field]: schema }), { [field]: value }, what) as Record<string, z.output<S>>)[field];
}

const fullName = (user: z.output<typeof UserSchema>): string | undefined => {
  const name = [user.first_name, user.last_name].filter(Boolean).join(' ').trim().slice(0, 256).trim();
  return name || undefined;
};

function userHandles(user: z.output<typeof UserSchema>, botId: string): HandleInput[] {
  return [
    { kind: 'telegram_user', scope: botId, value: String(user.id), trust: 'channel' },
    ...(user.username ? [{ kind: 'username' as const, scope: 'telegram', value: user.username, trust: 'asserted' as const }] : []),
  ];
}

type Chat = z.output<typeof ChatSchema>;
const isGroup = (chat: Chat | undefined): boolean => chat?.type === 'group' || chat?.type === 'supergroup';

/** Who a message is from: the person in a private chat; the group itself (a party of its own) in a group. */
function partyOf(user: z.output<typeof UserSchema>, chat: Chat | undefined, botId: string): { from: MessageInput['from']; metadata: Record<string, unknown> } {
  if (!isGroup(chat)) return { from: { name: fullName(user), handles: userHandles(user, botId) }, metadata: {} };
  const title = chat!.title?.trim().slice(0, 256);
  return {
    from: { ...(title ? { name: title } : {}), handles: [{ kind: 'external_id', scope: `telegram:${botId}`, value: `group:${chat!.id}`, trust: 'channel' }] },
    metadata: { sender: { id: user.id, ...(fullName(user) ? { name: fullName(user) } : {}), ...(user.username ? { username: user.username } : {}) } },
  };
}

function userMetadata(user: z.output<typeof UserSchema>): Record<string, unknown> {
  return { ...(user.username ? { username: user.username } : {}), ...(user.language_code ? { languageCode: user.language_code } : {}) };
}

function attachmentsOf(message: TelegramMessage): { attachments: Attachment[]; files: Record<string, unknown>[] } {
  const attachments: Attachment[] = [];
  const files: Record<string, unknown>[] = [];
  const add = (type: string, file: { file_id: string; file_unique_id: string; file_size?: number }, extra: Partial<Attachment>) => {
    attachments.push({ url: `telegram-file:${file.file_id}`, ...extra, ...(file.file_size !== undefined ? { size: file.file_size } : {}) });
    files.push({ type, fileId: file.file_id, fileUniqueId: file.file_unique_id });
  };
  if (message.photo?.length) {
    // Telegram sends every size it made; the last is not guaranteed largest, so pick by area.
    const largest = message.photo.reduce((a, b) => (b.width * b.height > a.width * a.height ? b : a));
    add('photo', largest, { name: 'photo' });
  }
  for (const type of ['document', 'video', 'audio', 'voice'] as const) {
    const file = message[type] as (typeof message)['document'];
    if (!file) continue;
    add(type, file, { name: file.file_name ?? type, ...(file.mime_type ? { contentType: file.mime_type } : {}) });
  }
  return { attachments, files };
}

function fromMessage(updateId: number, message: TelegramMessage, botId: string, edited: boolean, raw: unknown): MessageInput | undefined {
  const user = message.from;
  if (!user || user.is_bot) return undefined;
  const party = partyOf(user, message.chat, botId);
  const handles = party.from.handles;
  const contact = message.contact;
  // A contact shared by its own owner (the "share my phone number" button): the channel vouches for it.
  const ownPhone = contact !== undefined && contact.user_id === user.id && contact.phone_number.trim() !== '' && !isGroup(message.chat);
  if (ownPhone) handles.push({ kind: 'phone', value: contact.phone_number, trust: 'channel' });
  const { attachments, files } = attachmentsOf(message);
  const originalMessageId = `${message.chat.id}:${message.message_id}`;
  if (edited && message.edit_date === undefined) {
    throw new OmnithreadError('INVALID_INPUT', 'Invalid Telegram update: edited_message.edit_date: is required for an edited message', { field: 'edited_message.edit_date' });
  }
  const caption = message.caption;
  const text = message.text ?? caption ?? '';
  if (caption !== undefined && attachments.length) attachments[0] = { ...attachments[0], caption };
  return {
    channel: 'telegram',
    channelAccount: botId,
    providerMessageId: originalMessageId,
    threadKey: `${botId}:${message.chat.id}`,
    ...(message.reply_to_message ? { inReplyTo: [`${message.chat.id}:${message.reply_to_message.message_id}`] } : {}),
    ...(edited ? { editedAt: (message.edit_date as number) * 1000 } : {}),
    from: { ...party.from, handles },
    text,
    attachments,
    sentAt: message.date * 1000,
    replyTo: { chatId: message.chat.id },
    metadata: {
      updateId,
      chatType: message.chat.type,
      ...(message.chat.title ? { chatTitle: message.chat.title } : {}),
      ...userMetadata(user),
      ...party.metadata,
      ...(edited ? { edited: true } : {}),
      ...(files.length ? { files } : {}),
      ...(message.location ? { location: { latitude: message.location.latitude, longitude: message.location.longitude } } : {}),
      ...(contact ? { contact: { phoneNumber: contact.phone_number, firstName: contact.first_name, ...(contact.user_id !== undefined ? { userId: contact.user_id } : {}), own: ownPhone } } : {}),
    },
    raw,
  };
}

function parseUpdate(body: unknown, botId: string, groups: boolean): InboundItem[] {
  const update = parseInput(UpdateSchema, body, 'Telegram update');
  const kind = update.message !== undefined ? 'message' : update.edited_message !== undefined ? 'edited_message' : update.callback_query !== undefined ? 'callback_query' : undefined;
  if (!kind) return []; // channel posts, polls, chat member updates...: nothing a person said to us
  if (kind === 'callback_query') {
    const query = parseField(CallbackQuerySchema, update.callback_query, 'Telegram update', 'callback_query');
    if (query.from.is_bot || (isGroup(query.message?.chat) && !groups)) return [];
    // In a private chat the chat id is the user id, which is where the answer goes when the message is gone.
    const chatId = query.message?.chat.id ?? query.from.id;
    const party = partyOf(query.from, query.message?.chat, botId);
    const message: MessageInput = {
      channel: 'telegram',
      channelAccount: botId,
      providerMessageId: `callback:${query.id}`,
      kind: 'interaction',
      threadKey: `${botId}:${chatId}`,
      ...(query.message ? { inReplyTo: [`${query.message.chat.id}:${query.message.message_id}`] } : {}),
      from: party.from,
      text: query.data ?? '',
      replyTo: { chatId },
      metadata: {
        updateId: update.update_id,
        interaction: 'button',
        callbackQueryId: query.id,
        ...(query.message ? { callbackMessageId: `${query.message.chat.id}:${query.message.message_id}` } : {}),
        ...userMetadata(query.from),
        ...party.metadata,
      },
      raw: body,
    };
    return [{ type: 'message', message }];
  }
  const message = parseField(MessageSchema, update[kind], 'Telegram update', kind);
  if (isGroup(message.chat) && !groups) return []; // groups are off: acknowledged, not recorded
  const item = fromMessage(update.update_id, message, botId, kind === 'edited_message', body);
  return item ? [{ type: 'message', message: item }] : [];
}

// ---------------------------------------------------------------------------------------------
// Outbound
// ---------------------------------------------------------------------------------------------

const ToSchema = z
  .object({ chatId: z.union([Id, z.string().trim().regex(/^(-?\d{1,20}|@[A-Za-z0-9_]{4,64})$/, 'must be a chat id or @channelusername')]) })
  .passthrough();

const MEDIA_METHODS = { image: ['sendPhoto', 'photo'], video: ['sendVideo', 'video'], audio: ['sendAudio', 'audio'], document: ['sendDocument', 'document'] } as const;

function methodUrl(config: Pick<TelegramSendConfig, 'apiBaseUrl' | 'botToken'>, method: string): string {
  return `${config.apiBaseUrl.replace(/\/+$/, '')}/bot${config.botToken}/${method}`;
}

/** Telegram's error answers as OmnithreadErrors, never leaking the token (it is part of the URL). */
function telegramError(error: unknown, botToken: string): OmnithreadError {
  return providerError('Telegram', error, (status, body) => {
    const answer = (typeof body === 'object' && body !== null ? body : {}) as { description?: unknown; parameters?: { retry_after?: unknown } };
    const description = typeof answer.description === 'string' ? answer.description : undefined;
    const details = { provider: 'Telegram', status, response: body };
    if (status === undefined) {
      const said = ((error as AxiosError).message ?? String(error)).split(botToken).join('<bot token>');
      return new OmnithreadError('PROVIDER_ERROR', `Telegram could not be reached: ${said}`, { details: { ...details, code: (error as AxiosError).code } });
    }
    if (status === 429) {
      const retry = typeof answer.parameters?.retry_after === 'number' ? Math.max(0, Math.ceil(answer.parameters.retry_after)) : undefined;
      return new OmnithreadError('RATE_LIMITED', `Telegram rate limit reached${retry !== undefined ? `: retry after ${retry} s` : ''}`, {
        details: { ...details, retryAfterSeconds: retry },
      });
    }
    if (status === 404 && description === 'Not Found') {
      return new OmnithreadError('AUTH_FAILED', 'Telegram does not know this bot token (HTTP 404 Not Found): check the token from @BotFather', { details });
    }
    if (status === 403) {
      return new OmnithreadError('PROVIDER_ERROR', `Telegram can not deliver to this chat (HTTP 403): ${description ?? 'Forbidden'}`, {
        details: { ...details, reason: 'recipient_unreachable' },
      });
    }
    return undefined;
  });
}

async function callTelegram(http: AxiosInstance, config: Pick<TelegramSendConfig, 'apiBaseUrl' | 'botToken'>, method: string, payload?: Record<string, unknown>): Promise<{ result: unknown; answer: unknown }> {
  let answer: unknown;
  try {
    const response = payload === undefined ? await http.get(methodUrl(config, method)) : await http.post(methodUrl(config, method), payload, { headers: { 'content-type': 'application/json' } });
    answer = response.data;
  } catch (error) {
    throw telegramError(error, config.botToken);
  }
  const ok = typeof answer === 'object' && answer !== null && (answer as { ok?: unknown }).ok === true;
  if (!ok) throw new OmnithreadError('PROVIDER_ERROR', `Telegram ${method} did not answer ok: ${JSON.stringify(answer ?? null).slice(0, 300)}`, { details: { provider: 'Telegram', response: answer, delivery: 'not_sent' } });
  return { result: (answer as { result: unknown }).result, answer };
}

export interface TelegramWebhookOptions {
  botToken: string;
  secretToken?: string;
  apiBaseUrl?: string;
  /** Update types Telegram should send; defaults to the ones this channel records. */
  allowedUpdates?: string[];
}

const helperConfig = (options: Pick<TelegramWebhookOptions, 'botToken' | 'apiBaseUrl'>): TelegramSendConfig =>
  parseInput(TelegramSendConfigSchema, { botToken: options.botToken, ...(options.apiBaseUrl ? { apiBaseUrl: options.apiBaseUrl } : {}) }, 'Telegram settings');

/** setWebhook: Telegram will POST updates to `url`, with the secret token in its header. Returns Telegram's answer. */
export async function telegramSetWebhook(url: string, options: TelegramWebhookOptions, http: AxiosInstance): Promise<unknown> {
  const config = helperConfig(options);
  const secretToken = parseField(SecretTokenSchema.pipe(z.string().min(1, 'is required: deliveries are refused without one')), options.secretToken ?? '', 'Telegram settings', 'secretToken');
  if (!/^https?:\/\//i.test(url)) throw new OmnithreadError('INVALID_INPUT', 'The webhook URL must be an https URL', { field: 'url' });
  const { answer } = await callTelegram(http, config, 'setWebhook', {
    url,
    secret_token: secretToken,
    allowed_updates: options.allowedUpdates ?? ['message', 'edited_message', 'callback_query'],
  });
  return answer;
}

/** deleteWebhook: Telegram stops delivering (pending updates are kept unless dropPendingUpdates). */
export async function telegramDeleteWebhook(options: Pick<TelegramWebhookOptions, 'botToken' | 'apiBaseUrl'> & { dropPendingUpdates?: boolean }, http: AxiosInstance): Promise<unknown> {
  const { answer } = await callTelegram(http, helperConfig(options), 'deleteWebhook', options.dropPendingUpdates ? { drop_pending_updates: true } : {});
  return answer;
}

/** getWebhookInfo: the URL Telegram delivers to, pending updates, and the last delivery error. */
export async function telegramWebhookInfo(options: Pick<TelegramWebhookOptions, 'botToken' | 'apiBaseUrl'>, http: AxiosInstance): Promise<unknown> {
  const { result } = await callTelegram(http, helperConfig(options), 'getWebhookInfo');
  return result;
}

async function send(request: OutboundRequest, sendConfig: unknown, http: AxiosInstance): Promise<SendResult> {
  const config = parseInput(TelegramSendConfigSchema, sendConfig ?? {}, 'Telegram send settings');
  const { chatId } = parseField(ToSchema, request.to, 'Telegram recipient', 'to');
  if (request.template) throw new OmnithreadError('INVALID_INPUT', 'Telegram has no message templates: send text or media', { field: 'template' });
  const text = request.text ?? '';
  let method: string;
  let payload: Record<string, unknown>;
  if (request.media) {
    const entry = MEDIA_METHODS[request.media.type];
    if (!entry) throw new OmnithreadError('INVALID_INPUT', 'media.type must be image, video, audio or document', { field: 'media.type' });
    if (!/^https?:\/\//i.test(request.media.url ?? '')) throw new OmnithreadError('INVALID_INPUT', 'media.url must be an http(s) URL Telegram can fetch', { field: 'media.url' });
    const caption = request.media.caption ?? text;
    [method] = entry;
    payload = { chat_id: chatId, [entry[1]]: request.media.url, ...(caption ? { caption } : {}) };
  } else {
    if (!text.trim()) throw new OmnithreadError('INVALID_INPUT', 'Nothing to send: the text is empty and there is no media', { field: 'text' });
    method = 'sendMessage';
    payload = { chat_id: chatId, text };
  }
  const { result, answer } = await callTelegram(http, config, method, payload);
  const sent = result as { message_id?: unknown; chat?: { id?: unknown } } | undefined;
  if (typeof sent?.message_id !== 'number') {
    throw new OmnithreadError('PROVIDER_ERROR', `Telegram ${method} answered without a message_id`, { details: { provider: 'Telegram', response: answer, delivery: 'unknown' } });
  }
  const sentChat = typeof sent.chat?.id === 'number' ? sent.chat.id : chatId;
  return { providerMessageId: `${sentChat}:${sent.message_id}`, response: answer };
}

export const telegramChannel: SyncChannelModule<TelegramChannelConfig> = {
  id: 'telegram',
  displayName: 'Telegram',
  description: 'Telegram bots (Bot API webhooks), authenticated by the setWebhook secret token',
  configSchema: TelegramChannelConfigSchema,
  settings: Object.keys(TelegramConfigObject.shape),
  secrets: ['secretToken', 'botToken'],
  settingFields: [
    {
      name: 'secretToken',
      displayName: 'Secret Token',
      description:
        'The secret_token given to setWebhook (1-256 characters: A-Z, a-z, 0-9, _ and -). Telegram sends it in the X-Telegram-Bot-Api-Secret-Token header; deliveries without it get 403 and are not stored. Required: without it every delivery is refused.',
      secret: true,
      required: true,
    },
    {
      name: 'botToken',
      displayName: 'Bot Token',
      description: 'The bot token from @BotFather. Gives the bot id (the number before ":"), which scopes Telegram user ids, and lets the trigger register the webhook.',
      secret: true,
      placeholder: '123456789:AA...',
    },
    { name: 'botId', displayName: 'Bot ID', description: 'The bot id, when no bot token is given here (the number before ":" in the token)', placeholder: '123456789' },
    {
      name: 'apiBaseUrl',
      displayName: 'API Base URL',
      description: 'The Bot API server the trigger registers the webhook with (change only for a local Bot API server)',
      default: 'https://api.telegram.org',
    },
    {
      name: 'groups',
      displayName: 'Groups',
      description:
        'Record messages from groups and supergroups the bot is in. Each group is a party of its own with its own conversation, never mixed into a member\'s private chat. Off: group updates are acknowledged and ignored.',
      type: 'boolean',
      default: false,
    },
  ],
  sendFields: [
    { name: 'botToken', displayName: 'Bot Token', description: 'The bot token from @BotFather', secret: true, required: true, placeholder: '123456789:AA...' },
    { name: 'apiBaseUrl', displayName: 'API Base URL', description: 'The Bot API server (change only for a local Bot API server)', default: 'https://api.telegram.org' },
  ],

  verify(request, config) {
    if (!config.secretToken) {
      return { ok: false, status: 403, reason: 'no secret token is set in this node: set one (and pass it to setWebhook as secret_token) so deliveries can be authenticated' };
    }
    const given = header(request, TELEGRAM_SECRET_HEADER);
    if (!given) return { ok: false, status: 403, reason: 'missing X-Telegram-Bot-Api-Secret-Token header' };
    return safeEqual(given, config.secretToken) ? { ok: true } : { ok: false, status: 403, reason: 'X-Telegram-Bot-Api-Secret-Token does not match the secret token set in this node' };
  },

  parse(request, config) {
    return parseUpdate(parseJsonBody(request), telegramBotId(config), config.groups);
  },

  sendConfigSchema: TelegramSendConfigSchema,
  send,
};
