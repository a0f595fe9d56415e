/**
 * Twilio: SMS/MMS (`sms`) and voice calls (`voice`). Both receive Twilio's form-encoded webhooks
 * (application/x-www-form-urlencoded POSTs, https://www.twilio.com/docs/messaging/guides/webhook-request,
 * https://www.twilio.com/docs/usage/webhooks/voice-webhooks) signed with X-Twilio-Signature, and answer
 * with TwiML.
 *
 * Signature (https://www.twilio.com/docs/usage/webhooks/webhooks-security): base64(HMAC-SHA1(auth token,
 * URL + every POST parameter name and value, sorted by name, concatenated without separators)). The URL
 * is the one configured in Twilio, with its query string: set `publicUrl` when this node sits behind a
 * proxy (the request's query string is appended unless `publicUrl` has one of its own). As Twilio's own
 * helpers do, the URL is also tried without its port and with the scheme's standard port.
 *
 * sms: an incoming message (SmsStatus/MessageStatus `received`) becomes a message on the sender's phone
 * (trust `channel`), media from MediaUrlN/MediaContentTypeN; a status callback (MessageStatus
 * queued|sent|delivered|undelivered|failed|read...) becomes a status of the message with that MessageSid
 * (`undelivered` is recorded as `failed`, with details.errorCode). The answer is an empty <Response/>:
 * no automatic reply. WhatsApp through Twilio (From `whatsapp:+...`) is recorded as `sms` with the phone
 * handle; a dedicated channel is out of scope.
 *
 * voice: an incoming call (CallStatus ringing, Direction inbound, not a call-progress callback) becomes a
 * message of kind `call`, answered with the greeting and, unless a number is dialled, a <Record> with
 * transcription; call status callbacks become statuses of the call (details.duration); a transcription
 * callback becomes a message (kind `message`) with the text, the recording and metadata.callSid.
 * Recording callbacks (the <Record> action) are acknowledged with <Response/>, which ends the call.
 *
 * Sending (sms only): POST {apiBaseUrl}/2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded,
 * HTTP Basic auth AccountSid:AuthToken (https://www.twilio.com/docs/messaging/api/message-resource).
 */
import { createHmac } from 'node:crypto';
import type { AxiosInstance } from 'axios';
import { z } from 'zod';
import { OmnithreadError } from '../errors';
import {
  HandleInput,
  MessageInput,
  MessageInputSchema,
  StatusUpdateInput,
  StatusUpdateInputSchema,
  parseInput,
} from '../model';
import type { WebhookOutcome } from '../webhook';
import { SyncChannelModule, InboundItem, OutboundRequest, SendResult, SettingField, Verification, WebhookReply, WebhookRequest, header } from './channel';
import { formParams, textBody } from './body';
import { providerError, safeEqual } from './http';

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

const OptionalUrl = z
  .string()
  .trim()
  .default('')
  .refine((v) => v === '' || /^https?:\/\/[^\s]+$/i.test(v), { message: 'must be an http(s) URL such as https://example.com/webhook/twilio' });
const Flag = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());

const TwilioSmsShape = {
  /** The account's Auth Token: the key of X-Twilio-Signature. */
  authToken: z.string().default(''),
  /** The webhook URL exactly as configured in Twilio, when it differs from what this node sees (proxy). */
  publicUrl: OptionalUrl,
};
export const TwilioSmsConfigSchema = z.object(TwilioSmsShape).strict();
export type TwilioSmsConfig = z.output<typeof TwilioSmsConfigSchema>;

export const TwilioVoiceConfigSchema = z
  .object({
    ...TwilioSmsShape,
    /** What the caller hears first (<Say>). */
    greeting: z.string().max(4096).default('Thank you for calling. Please leave a message after the tone.'),
    /** Record a voicemail after the greeting (ignored when dialNumber is set). */
    record: Flag.default(true),
    /** Have Twilio transcribe the recording; the transcription arrives as a message on the timeline. */
    transcribe: Flag.default(true),
    /** Longest recording, in seconds (Twilio transcribes recordings of up to 120 s). */
    maxRecordingSeconds: z.coerce.number().int().min(1).max(14400).default(120),
    /** A number (or SIP address) to connect the caller to after the greeting, instead of recording. */
    dialNumber: z.string().trim().max(256).default(''),
    /** Where Twilio posts the transcription; defaults to publicUrl (this webhook). */
    transcribeCallbackUrl: OptionalUrl,
  })
  .strict();
export type TwilioVoiceConfig = z.output<typeof TwilioVoiceConfigSchema>;

export const TwilioSendConfigSchema = z
  .object({
    accountSid: z.string().trim().min(1, 'must not be empty (your Account SID, AC...)').max(64),
    authToken: z.string().min(1, 'must not be empty'),
    /** The sending number, when the reply address does not name one. */
    from: z.string().trim().max(256).default(''),
    /** Send through a Messaging Service instead of one number (takes precedence over from). */
    messagingServiceSid: z.string().trim().max(64).default(''),
    /** Where Twilio posts the status of the sent message (use this channel's webhook URL). */
    statusCallback: OptionalUrl,
    apiBaseUrl: z.string().trim().url().default('https://api.twilio.com'),
  })
  .strict();
export type TwilioSendConfig = z.output<typeof TwilioSendConfigSchema>;

// ---------------------------------------------------------------------------------------------
// Signature
// ---------------------------------------------------------------------------------------------

/** The X-Twilio-Signature for a URL and the POST parameters (sorted by name, then value, in byte order). */
export function twilioSignature(authToken: string, url: string, params: Iterable<[string, string]>): string {
  const sorted = [...params].sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])) || Buffer.compare(Buffer.from(a[1]), Buffer.from(b[1])));
  const hmac = createHmac('sha1', authToken).update(url);
  for (const [name, value] of sorted) hmac.update(name + value);
  return hmac.digest('base64');
}

/** The URL as given, without its port, and with the scheme's standard port (as Twilio's helpers try). */
export function urlVariants(url: string): string[] {
  const match = /^(https?:\/\/)([^/?#@]*@)?(\[[^\]]*\]|[^/?#:]*)(:\d*)?([\s\S]*)$/i.exec(url);
  if (!match) return [url];
  const [, scheme, user = '', host, , rest] = match;
  const port = scheme.toLowerCase() === 'https://' ? ':443' : ':80';
  return [...new Set([url, `${scheme}${user}${host}${rest}`, `${scheme}${user}${host}${port}${rest}`])];
}

/** The URL Twilio signed: publicUrl (plus the request's query string) or the URL the request came to. */
export function signedUrl(request: WebhookRequest, publicUrl: string): string | undefined {
  if (!publicUrl) return request.url || undefined;
  if (publicUrl.includes('?')) return publicUrl;
  const query = request.url?.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : queryString(request.query);
  return query ? `${publicUrl}?${query}` : publicUrl;
}

function queryString(query: Record<string, unknown>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) if (typeof v === 'string' || typeof v === 'number') search.append(name, String(v));
  }
  return search.toString();
}

function twilioVerify(request: WebhookRequest, config: { authToken: string; publicUrl: string }): Verification {
  if (!config.authToken) return { ok: false, status: 403, reason: 'no Auth Token is set in this node, so X-Twilio-Signature can not be checked' };
  const given = header(request, 'x-twilio-signature');
  if (!given) return { ok: false, status: 403, reason: 'missing X-Twilio-Signature header' };
  const url = signedUrl(request, config.publicUrl);
  if (!url) return { ok: false, status: 403, reason: 'the webhook URL is unknown: set publicUrl to the URL configured in Twilio' };
  const params = request.method.toUpperCase() === 'POST' ? [...new URLSearchParams(request.rawBody.toString('utf8'))] : [];
  const ok = urlVariants(url).some((candidate) => safeEqual(given.trim(), twilioSignature(config.authToken, candidate, params)));
  return ok
    ? { ok: true }
    : { ok: false, status: 403, reason: `X-Twilio-Signature does not match (check the Auth Token, and that ${config.publicUrl ? 'publicUrl' : 'the URL this node sees'} is the URL configured in Twilio: ${url.split('?')[0]})` };
}

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

const SID = /^[A-Z]{2}[0-9a-fA-F]{32}$/;

function invalid(field: string, message: string): OmnithreadError {
  return new OmnithreadError('INVALID_INPUT', `Invalid Twilio webhook: ${field} ${message}`, { field });
}

/** The form parameters of a delivery, or INVALID_INPUT when the body is empty or not form-encoded. */
export function twilioParams(request: WebhookRequest): URLSearchParams {
  const type = header(request, 'content-type');
  if (!request.rawBody.length) {
    throw new OmnithreadError('INVALID_INPUT', 'The request body is empty: Twilio posts form-encoded parameters (set the webhook method to HTTP POST)', { field: '(body)' });
  }
  if (type && !/^\s*application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) {
    throw new OmnithreadError('INVALID_INPUT', `The request body is ${type.split(';')[0].trim()}, not form-encoded (application/x-www-form-urlencoded) as Twilio sends it`, { field: '(body)' });
  }
  const text = textBody(request);
  if (/^\s*[{[<]/.test(text)) {
    throw new OmnithreadError('INVALID_INPUT', 'The request body looks like JSON or XML, not form-encoded parameters as Twilio sends them', { field: '(body)' });
  }
  return new URLSearchParams(formParams(text));
}

class Params {
  constructor(readonly all: URLSearchParams) {}
  get(name: string, max = 256): string | undefined {
    const value = this.all.get(name);
    if (value === null || value === '') return undefined;
    if (value.length > max) throw invalid(name, `is too long (more than ${max} characters)`);
    return value;
  }
  required(name: string, max = 256): string {
    const value = this.get(name, max);
    if (value === undefined) throw invalid(name, 'is missing');
    return value;
  }
  sid(name: string, required: true): string;
  sid(name: string, required?: false): string | undefined;
  sid(name: string, required = false): string | undefined {
    const value = required ? this.required(name) : this.get(name);
    if (value !== undefined && !SID.test(value)) throw invalid(name, 'is not a Twilio SID (two letters and 32 hex digits)');
    return value;
  }
  raw(): Record<string, string> {
    return Object.fromEntries(this.all);
  }
}

/** Caller IDs Twilio uses for withheld numbers: never an identity. */
const ANONYMOUS = new Set(['+266696687', '+7378742833', '+2562533', '+8656696', '+86282452253', 'anonymous', 'restricted', 'unknown', 'private', 'unavailable']);
const PHONE = /^\+?[0-9][0-9 ().-]{2,30}$/;

/** The sender's handle: a phone number (trust channel), or the Twilio address (client:, sip:...) as an external id. */
function senderOf(from: string): { handle: HandleInput; phone?: string } {
  const bare = from.replace(/^whatsapp:/i, '');
  if (ANONYMOUS.has(bare.toLowerCase())) return { handle: { kind: 'external_id', scope: 'twilio', value: 'anonymous', trust: 'channel' } };
  if (PHONE.test(bare)) return { handle: { kind: 'phone', value: bare, trust: 'channel' }, phone: bare };
  return { handle: { kind: 'external_id', scope: 'twilio', value: from, trust: 'channel' } };
}

function location(p: Params, prefix: 'From'): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const part of ['City', 'State', 'Zip', 'Country'] as const) {
    const value = p.get(`${prefix}${part}`);
    if (value) out[part.toLowerCase()] = value;
  }
  return Object.keys(out).length ? out : undefined;
}

function compact<T extends Record<string, unknown>>(object: T): T {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined)) as T;
}

function timestamp(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

function inbound(p: Params, channel: 'sms' | 'voice', id: string, kind: 'message' | 'call', text: string, extra: Partial<MessageInput> = {}): MessageInput {
  const from = p.required('From');
  const to = p.required('To');
  const sender = senderOf(from);
  return compact({
    channel,
    channelAccount: to,
    providerMessageId: id,
    kind,
    // A withheld number is nobody's identity: the call's own sid keeps the call and its transcription together.
    threadKey: sender.phone ? from : p.get('CallSid') ? `call:${p.get('CallSid')}` : undefined,
    from: compact({ name: extra.from?.name, handles: [sender.handle] }),
    text,
    attachments: extra.attachments ?? [],
    replyTo: { to: from, from: to },
    metadata: extra.metadata,
    raw: p.raw(),
  });
}

/** Guarantees every item is valid, naming the field, the same way handleWebhook will check it. */
function checked(items: InboundItem[]): InboundItem[] {
  for (const item of items) {
    if (item.type === 'message') parseInput(MessageInputSchema, item.message, 'Twilio message');
    else parseInput(StatusUpdateInputSchema, item.status, 'Twilio status update');
  }
  return items;
}

// ---------------------------------------------------------------------------------------------
// SMS
// ---------------------------------------------------------------------------------------------

const MESSAGE_STATUS: Record<string, StatusUpdateInput['status']> = {
  accepted: 'queued',
  scheduled: 'queued',
  queued: 'queued',
  sending: 'queued',
  sent: 'sent',
  delivered: 'delivered',
  undelivered: 'failed',
  failed: 'failed',
  read: 'read',
  canceled: 'canceled',
};

function parseSms(request: WebhookRequest): InboundItem[] {
  const p = new Params(twilioParams(request));
  const messageSid = p.sid('MessageSid') ?? p.sid('SmsSid');
  if (!messageSid) throw invalid('MessageSid', 'is missing');
  const accountSid = p.sid('AccountSid', true);
  const state = (p.get('MessageStatus') ?? p.get('SmsStatus'))?.toLowerCase();
  if (!state) throw invalid('MessageStatus', 'is missing (neither SmsStatus nor MessageStatus is set)');

  if (state === 'received' || state === 'receiving') {
    const count = p.get('NumMedia') ?? '0';
    if (!/^\d{1,3}$/.test(count) || Number(count) > 100) throw invalid('NumMedia', 'must be a number from 0 to 100');
    const attachments = Array.from({ length: Number(count) }, (_, i) => ({
      url: p.required(`MediaUrl${i}`, 4096),
      ...(p.get(`MediaContentType${i}`) ? { contentType: p.get(`MediaContentType${i}`) } : {}),
    }));
    const message = inbound(p, 'sms', messageSid, 'message', p.get('Body', 200_000) ?? '', {
      attachments,
      metadata: compact({
        accountSid,
        messagingServiceSid: p.sid('MessagingServiceSid'),
        numSegments: p.get('NumSegments'),
        fromLocation: location(p, 'From'),
      }),
    });
    return checked([{ type: 'message', message }]);
  }

  const status = MESSAGE_STATUS[state];
  if (!status) return []; // a status we do not record: acknowledged
  const errorCode = p.get('ErrorCode');
  const update: StatusUpdateInput = {
    channel: 'sms',
    channelAccount: p.get('From') ?? '',
    providerMessageId: messageSid,
    status,
    details: compact({
      errorCode,
      errorMessage: p.get('ErrorMessage', 4096),
      providerStatus: status === state ? undefined : state,
    }),
  };
  return checked([{ type: 'status', status: update }]);
}

// ---------------------------------------------------------------------------------------------
// Voice
// ---------------------------------------------------------------------------------------------

const CALL_STATUS: Record<string, StatusUpdateInput['status']> = {
  queued: 'queued',
  initiated: 'queued',
  ringing: 'ringing',
  'in-progress': 'in-progress',
  answered: 'in-progress',
  completed: 'completed',
  busy: 'busy',
  'no-answer': 'no-answer',
  canceled: 'canceled',
  failed: 'failed',
};

function parseVoice(request: WebhookRequest): InboundItem[] {
  const p = new Params(twilioParams(request));
  const callSid = p.sid('CallSid', true);
  const accountSid = p.sid('AccountSid', true);

  const transcriptionSid = p.sid('TranscriptionSid');
  if (transcriptionSid) {
    const recordingUrl = p.get('RecordingUrl', 4096);
    const transcriptionStatus = p.get('TranscriptionStatus');
    const message = inbound(p, 'voice', transcriptionSid, 'message', p.get('TranscriptionText', 200_000) ?? '', {
      attachments: recordingUrl ? [{ url: recordingUrl, name: 'recording', contentType: 'audio/x-wav' }] : [],
      metadata: compact({ accountSid, callSid, recordingSid: p.sid('RecordingSid'), recordingUrl, transcriptionStatus }),
    });
    return checked([{ type: 'message', message }]);
  }

  // The <Record> action and recording status callbacks: nothing to record (the transcription carries the recording).
  if (p.get('RecordingSid') || p.get('RecordingUrl', 4096)) return [];

  const callStatus = p.required('CallStatus').toLowerCase();
  const direction = p.get('Direction');
  if (callStatus === 'ringing' && direction === 'inbound' && !p.get('CallbackSource')) {
    const callerName = p.get('CallerName');
    const message = inbound(p, 'voice', callSid, 'call', callerName ? `Incoming call from ${callerName}` : 'Incoming call', {
      from: { name: callerName, handles: [] },
      metadata: compact({ accountSid, callSid, direction, callStatus, fromLocation: location(p, 'From') }),
    });
    return checked([{ type: 'message', message }]);
  }

  const status = CALL_STATUS[callStatus];
  if (!status) return [];
  const duration = p.get('CallDuration') ?? p.get('Duration');
  if (duration !== undefined && !/^\d{1,9}$/.test(duration)) throw invalid('CallDuration', 'must be a whole number of seconds');
  const ours = direction === 'inbound' ? p.get('To') : p.get('From');
  const update: StatusUpdateInput = compact({
    channel: 'voice',
    channelAccount: ours ?? '',
    providerMessageId: callSid,
    status,
    at: timestamp(p.get('Timestamp')),
    details: compact({
      duration: duration === undefined ? undefined : Number(duration),
      direction,
      sipResponseCode: p.get('SipResponseCode'),
      errorCode: p.get('ErrorCode'),
      providerStatus: status === callStatus ? undefined : callStatus,
    }),
  });
  return checked([{ type: 'status', status: update }]);
}

// ---------------------------------------------------------------------------------------------
// TwiML
// ---------------------------------------------------------------------------------------------

/** Text for XML: characters XML 1.0 forbids are dropped, markup characters escaped. */
export function xmlEscape(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';
export const EMPTY_TWIML = `${XML_DECLARATION}<Response/>`;
const twiml = (body: string): WebhookReply => ({ status: 200, body, type: 'xml' });

/** The answer to an incoming call: the greeting, then a dial or a (transcribed) recording. */
export function greetingTwiml(config: TwilioVoiceConfig): string {
  const parts = [config.greeting.trim() ? `<Say>${xmlEscape(config.greeting)}</Say>` : ''];
  if (config.dialNumber) {
    parts.push(`<Dial>${xmlEscape(config.dialNumber)}</Dial>`);
  } else if (config.record) {
    const callback = config.transcribeCallbackUrl || config.publicUrl;
    const transcribe = config.transcribe ? ` transcribe="true"${callback ? ` transcribeCallback="${xmlEscape(callback)}"` : ''}` : '';
    parts.push(`<Record maxLength="${config.maxRecordingSeconds}" playBeep="true"${transcribe}/>`);
  }
  return `${XML_DECLARATION}<Response>${parts.join('')}</Response>`;
}

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------

const str = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() ? value.trim() : undefined);

/** What an SMS answer is made of, checked: the API URL, and the Messages resource's parameters. */
function smsMessage(request: OutboundRequest, sendConfig: unknown): { config: TwilioSendConfig; url: string; form: URLSearchParams } {
  const config = parseInput(TwilioSendConfigSchema, sendConfig, 'SMS (Twilio) send settings');
  const to = str(request.to?.to);
  if (!to) throw new OmnithreadError('INVALID_INPUT', 'The reply address has no "to" number (replyTo of an SMS or call: { to, from })', { field: 'to.to' });
  if (request.template) throw new OmnithreadError('INVALID_INPUT', 'Templates are not supported on SMS (Twilio): send text', { field: 'template' });
  const body = request.text || request.media?.caption || '';
  if (!body && !request.media) throw new OmnithreadError('INVALID_INPUT', 'Nothing to send: the text is empty and there is no media', { field: 'text' });

  const form = new URLSearchParams();
  form.append('To', to);
  if (config.messagingServiceSid) form.append('MessagingServiceSid', config.messagingServiceSid);
  else {
    const from = str(request.to?.from) ?? config.from;
    if (!from) throw new OmnithreadError('INVALID_INPUT', 'No sending number: set "from" or "messagingServiceSid" in the send settings', { field: 'from' });
    form.append('From', from);
  }
  if (body) form.append('Body', body);
  if (request.media) form.append('MediaUrl', request.media.url);
  if (config.statusCallback) form.append('StatusCallback', config.statusCallback);
  const url = `${config.apiBaseUrl.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(config.accountSid)}/Messages.json`;
  return { config, url, form };
}

async function sendSms(request: OutboundRequest, sendConfig: unknown, http: AxiosInstance): Promise<SendResult> {
  const { config, url, form } = smsMessage(request, sendConfig);
  try {
    const response = await http.post(url, form.toString(), {
      auth: { username: config.accountSid, password: config.authToken },
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    });
    const sid = (response.data as { sid?: unknown } | undefined)?.sid;
    if (typeof sid !== 'string' || !sid) {
      throw new OmnithreadError('PROVIDER_ERROR', 'Twilio accepted the message but its answer has no sid', { details: { provider: 'Twilio', status: response.status, response: response.data, delivery: 'unknown' } });
    }
    return { providerMessageId: sid, response: response.data };
  } catch (error) {
    throw providerError('Twilio', error, twilioSpecific);
  }
}

/** Clocks differ: a message Twilio dated up to this much before our reservation still counts as it. */
const CLOCK_SLACK_MS = 60_000;

/**
 * Whether Twilio has this answer: Twilio creates the Message resource before it answers the POST, so its
 * list (filtered by To, and From when we know it) holds every message it took. A message to the same
 * number with the same body, created since the reservation, is ours.
 * https://www.twilio.com/docs/messaging/api/message-resource#read-multiple-message-resources
 */
async function findSentSms(request: OutboundRequest, sendConfig: unknown, http: AxiosInstance, since: number): Promise<string | null> {
  const { config, url, form } = smsMessage(request, sendConfig);
  const query = new URLSearchParams({ To: form.get('To')!, PageSize: '50' });
  if (form.get('From')) query.set('From', form.get('From')!);
  try {
    const response = await http.get(`${url}?${query}`, { auth: { username: config.accountSid, password: config.authToken }, headers: { Accept: 'application/json' } });
    const messages = (response.data as { messages?: unknown } | undefined)?.messages;
    if (!Array.isArray(messages)) throw new OmnithreadError('PROVIDER_ERROR', 'Twilio listed messages without a "messages" array', { details: { provider: 'Twilio', response: response.data } });
    const body = form.get('Body') ?? '';
    const ours = messages.find((m: { sid?: unknown; body?: unknown; date_created?: unknown }) => typeof m?.sid === 'string' && (m.body ?? '') === body && Date.parse(String(m.date_created)) >= since - CLOCK_SLACK_MS);
    return ours ? (ours as { sid: string }).sid : null;
  } catch (error) {
    throw providerError('Twilio', error, twilioSpecific);
  }
}

/**
 * Twilio's error answers are JSON { code, message, more_info, status }
 * (https://www.twilio.com/docs/usage/twilios-response#response-formats-exceptions): 20429 is its rate limit,
 * 20003 an authentication failure; 21610 means the recipient replied STOP (unsubscribed) and stays a
 * PROVIDER_ERROR: only the recipient can opt in again (by texting START).
 */
function twilioSpecific(status: number | undefined, body: unknown): OmnithreadError | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { code, message, more_info: moreInfo } = body as { code?: unknown; message?: unknown; more_info?: unknown };
  if (typeof code !== 'number') return undefined;
  const details = { provider: 'Twilio', status, response: body, code, moreInfo };
  if (code === 20429 && status !== 429) return new OmnithreadError('RATE_LIMITED', `Twilio rate limit reached (${code}): ${String(message)}`, { details });
  if (code === 20003 && status !== 401 && status !== 403) return new OmnithreadError('AUTH_FAILED', `Twilio refused the credentials (${code}): ${String(message)}`, { details });
  if (status === 429 || status === 401 || status === 403) return undefined;
  const what = code === 21610 ? 'the recipient has unsubscribed (replied STOP); they must text START to receive messages again' : String(message);
  return new OmnithreadError('PROVIDER_ERROR', `Twilio refused the message (error ${code}, HTTP ${status}): ${what}`, { details });
}

// ---------------------------------------------------------------------------------------------
// The channels
// ---------------------------------------------------------------------------------------------

const WEBHOOK_FIELDS: readonly SettingField[] = [
  {
    name: 'authToken',
    displayName: 'Auth Token',
    description: 'Your Twilio Auth Token (Console > Account info): it checks X-Twilio-Signature. Deliveries with a missing or wrong signature get 403 and are not stored.',
    secret: true,
    required: true,
  },
  {
    name: 'publicUrl',
    displayName: 'Public URL',
    description: 'The webhook URL exactly as configured in Twilio, when it differs from the URL this node sees (behind a proxy or tunnel). Twilio signs that URL.',
    placeholder: 'https://support.example.com/webhooks/twilio',
  },
];

const SEND_FIELDS: readonly SettingField[] = [
  { name: 'accountSid', displayName: 'Account SID', description: 'Your Twilio Account SID (AC...)', required: true },
  { name: 'authToken', displayName: 'Auth Token', description: 'Your Twilio Auth Token', secret: true, required: true },
  { name: 'from', displayName: 'From Number', description: 'The sending number (E.164), used when the reply address names none', placeholder: '+447700900123' },
  { name: 'messagingServiceSid', displayName: 'Messaging Service SID', description: 'Send through a Messaging Service (MG...) instead of one number' },
  { name: 'statusCallback', displayName: 'Status Callback URL', description: "Where Twilio posts delivery statuses: this SMS channel's webhook URL" },
  { name: 'apiBaseUrl', displayName: 'API Base URL', description: 'The Twilio API', default: 'https://api.twilio.com' },
];

export const twilioSmsChannel: SyncChannelModule<TwilioSmsConfig> = {
  id: 'sms',
  displayName: 'SMS (Twilio)',
  description: 'SMS and MMS through a Twilio number: incoming messages and delivery statuses, signed with X-Twilio-Signature',
  configSchema: TwilioSmsConfigSchema,
  settings: Object.keys(TwilioSmsConfigSchema.shape),
  secrets: ['authToken'],
  settingFields: WEBHOOK_FIELDS,
  sendFields: SEND_FIELDS,
  verify: twilioVerify,
  parse: (request) => parseSms(request),
  respond: () => twiml(EMPTY_TWIML),
  sendConfigSchema: TwilioSendConfigSchema,
  send: sendSms,
  findSent: findSentSms,
};

export const twilioVoiceChannel: SyncChannelModule<TwilioVoiceConfig> = {
  id: 'voice',
  displayName: 'Voice (Twilio)',
  description: 'Calls to a Twilio number: the call, its statuses and the voicemail transcription on the timeline; answered with TwiML',
  configSchema: TwilioVoiceConfigSchema,
  settings: Object.keys(TwilioVoiceConfigSchema.shape),
  secrets: ['authToken'],
  settingFields: [
    ...WEBHOOK_FIELDS,
    { name: 'greeting', displayName: 'Greeting', description: 'What the caller hears first', default: 'Thank you for calling. Please leave a message after the tone.' },
    { name: 'record', displayName: 'Record Voicemail', description: 'Record a message after the greeting (unless a number is dialled)', type: 'boolean', default: true },
    { name: 'transcribe', displayName: 'Transcribe', description: 'Transcribe the recording; the text is recorded on the timeline (needs Public URL or Transcribe Callback URL)', type: 'boolean', default: true },
    { name: 'maxRecordingSeconds', displayName: 'Max Recording Seconds', description: 'Longest recording (Twilio transcribes up to 120 s)', default: '120' },
    { name: 'dialNumber', displayName: 'Dial Number', description: 'Connect the caller to this number after the greeting instead of recording', placeholder: '+447700900999' },
    { name: 'transcribeCallbackUrl', displayName: 'Transcribe Callback URL', description: "Where Twilio posts the transcription: this voice channel's webhook URL (defaults to Public URL)" },
  ],
  verify: twilioVerify,
  parse: (request) => parseVoice(request),
  respond(outcome: WebhookOutcome, config) {
    const call = [...outcome.recorded, ...outcome.duplicates].some((r) => r.message.kind === 'call');
    return twiml(call ? greetingTwiml(config) : EMPTY_TWIML);
  },
};
