/**
 * One webhook delivery, from request to reply, for every channel and both engines:
 * handshake -> signature (401/403, nothing stored) -> parse and validate every item (400 naming the
 * field, nothing stored) -> record each message and status (a redelivery is recognised) -> 200.
 * Items are recorded before the provider gets its 200, so nothing acknowledged is ever lost; a store
 * failure answers 503 so the provider delivers again. (On a 503 part-way through a batch, `recorded`
 * still lists what was written: those are redeliveries for the provider's retry.) 503 means only that:
 * an input error is a 400, whatever layer finds it, and an error of Omnithread's own a 500 (see
 * failureReply).
 */
import { isOmnithreadError } from './errors';
import { MessageInputSchema, StatusUpdateInputSchema, parseInput } from './model';
import { isOwnAddress } from './identity/rules';
import type { Message, StatusUpdateInput } from './model';
import type { IngestResult, Omnithread } from './omnithread';
import type { ChannelModule, WebhookReply, WebhookRequest } from './channels/channel';

export interface WebhookOutcome {
  reply: WebhookReply;
  /** Newly recorded messages: what the flow should run for. Redeliveries, edits and our own messages are not in here. */
  recorded: IngestResult[];
  duplicates: IngestResult[];
  /** Earlier messages updated in place by an edit (the flow does not run for them again). */
  edited: IngestResult[];
  /** Our own messages seen on the channel (an agent's answer from the support mailbox), recorded as outbound. */
  outbound: IngestResult[];
  /** Deliveries acknowledged and deliberately not recorded (mail between two of our own addresses), with why. */
  ignored: string[];
  /** Status updates (delivered, read, a call completed): recorded, redelivered, or about nothing we know. */
  statuses: { recorded: number; duplicates: number; unknown: number };
  /** Why the delivery was refused, when it was (for the node's status and logs). */
  refused?: string;
}

/** What a trigger emits for each newly recorded message, the same in both engines. */
export interface TriggerOutput {
  contactId: string;
  channel: string;
  text: string;
  message: IngestResult['message'];
  event: IngestResult['event'];
  contact: IngestResult['contact'];
  conversation: IngestResult['conversation'];
  identity: IngestResult['identity'];
  channelSwitch: IngestResult['channelSwitch'];
}

export function triggerOutput(result: IngestResult): TriggerOutput {
  return {
    contactId: result.contact.id,
    channel: result.message.channel,
    text: result.message.text,
    message: result.message,
    event: result.event,
    contact: result.contact,
    conversation: result.conversation,
    identity: result.identity,
    channelSwitch: result.channelSwitch,
  };
}

const CONTENT_TYPES = {
  json: 'application/json; charset=utf-8',
  text: 'text/plain; charset=utf-8',
  xml: 'text/xml; charset=utf-8',
  html: 'text/html; charset=utf-8',
  javascript: 'text/javascript; charset=utf-8',
} as const;

/** A reply as it goes on the wire, the same in both engines. */
export function renderReply(reply: WebhookReply): { status: number; contentType: string; body: string; headers: Record<string, string> } {
  const type = reply.type ?? 'json';
  return {
    status: reply.status,
    contentType: CONTENT_TYPES[type],
    body: reply.body === undefined ? '' : type === 'json' ? JSON.stringify(reply.body) : String(reply.body),
    headers: reply.headers ?? {},
  };
}

/** True when the provider expects a particular answer (a handshake echo, TwiML) rather than our JSON. */
export const isProviderReply = (reply: WebhookReply): boolean => (reply.type ?? 'json') !== 'json';

export function channelConfig<C>(channel: ChannelModule<C>, settings: unknown): C {
  return parseInput(channel.configSchema, settings ?? {}, `${channel.displayName} channel settings`);
}

/** How long a provider should wait before delivering again after a 503 (the store was unreachable). */
export const RETRY_AFTER_SECONDS = 30;

/**
 * The answer to a delivery that could not be recorded, for both engines: 503 with Retry-After only when
 * the store could not be reached (the provider should deliver again); 400 naming the field for an input
 * error, wherever it was found; 500 for anything else, an error of ours that a retry will not mend.
 */
export function failureReply(error: unknown): WebhookReply {
  if (isOmnithreadError(error, 'STORE_UNAVAILABLE')) {
    return { status: 503, headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) }, body: { error: `Not recorded, please retry: ${error.message}` } };
  }
  if (isOmnithreadError(error, 'INVALID_INPUT')) return { status: 400, body: { error: error.message, field: error.field } };
  const message = error instanceof Error ? error.message : String(error);
  return { status: 500, body: { error: `Not recorded: ${message.slice(0, 500)}` } };
}

/** A channel's GET content; a request it refuses (a bad feed query) is a 400 naming the field. */
async function serve<C>(ot: Omnithread, channel: ChannelModule<C>, config: C, request: WebhookRequest): Promise<WebhookReply | undefined> {
  if (!channel.serve) return undefined;
  try {
    return await channel.serve(request, config, { ot, endpoint: endpointOf(request) });
  } catch (error) {
    if (!isOmnithreadError(error, 'INVALID_INPUT')) throw error;
    return { status: 400, body: { error: error.message, field: error.field } };
  }
}

type Item = { type: 'message'; message: Message } | { type: 'status'; status: StatusUpdateInput };

/** The public URL of the webhook without its query (what served pages call back). */
export function endpointOf(request: WebhookRequest): string {
  const url = request.url ?? '';
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

export async function handleWebhook<C>(ot: Omnithread, channel: ChannelModule<C>, config: C, request: WebhookRequest): Promise<WebhookOutcome> {
  const outcome = await handleDelivery(ot, channel, config, request);
  const headers = channel.responseHeaders?.(request, config);
  return headers ? { ...outcome, reply: { ...outcome.reply, headers: { ...headers, ...outcome.reply.headers } } } : outcome;
}

async function handleDelivery<C>(ot: Omnithread, channel: ChannelModule<C>, config: C, request: WebhookRequest): Promise<WebhookOutcome> {
  const outcome: WebhookOutcome = {
    reply: { status: 200, body: {} },
    recorded: [],
    duplicates: [],
    edited: [],
    outbound: [],
    ignored: [],
    statuses: { recorded: 0, duplicates: 0, unknown: 0 },
  };
  const challenge = channel.challenge?.(request, config);
  if (challenge) return { ...outcome, reply: challenge };

  if (request.method.toUpperCase() !== 'POST') {
    const served = await serve(ot, channel, config, request);
    if (served) return { ...outcome, reply: served };
    return { ...outcome, reply: { status: 405, body: { error: `${channel.displayName} deliveries are POST requests; ${request.method} is only for a provider's verification handshake` } } };
  }

  const verification = channel.verify(request, config);
  if (!verification.ok) {
    return { ...outcome, reply: { status: verification.status, body: { error: `Signature check failed: ${verification.reason}` } }, refused: verification.reason };
  }

  let items: Item[];
  try {
    // Validate every item before recording any, so a bad one in a batch stores nothing at all.
    const parsed = await channel.parse(request, config, { isOwnAddress: (address) => isOwnAddress(ot.rules, address) });
    items = parsed.map((item, i): Item => {
      const what = parsed.length > 1 ? ` ${i + 1}` : '';
      return item.type === 'message'
        ? { type: 'message', message: parseInput(MessageInputSchema, item.message, `message${what}`) }
        : { type: 'status', status: parseInput(StatusUpdateInputSchema, item.status, `status update${what}`) };
    });
  } catch (error) {
    if (!isOmnithreadError(error, 'INVALID_INPUT')) throw error;
    return { ...outcome, reply: { status: 400, body: { error: error.message, field: error.field } }, refused: error.message };
  }

  let erased = 0;
  try {
    for (const item of items) {
      if (item.type === 'status') {
        const result = await ot.recordStatus(item.status);
        // A watermark receipt marks as many of our messages as it covers.
        if (result.marked) outcome.statuses.recorded += result.marked;
        else outcome.statuses[result.recorded ? 'recorded' : result.duplicate ? 'duplicates' : 'unknown']++;
        continue;
      }
      try {
        const result = await ot.ingest(item.message);
        const bucket = { recorded: outcome.recorded, duplicate: outcome.duplicates, edited: outcome.edited, outbound: outcome.outbound }[result.effect];
        bucket.push(result);
      } catch (error) {
        if (isOmnithreadError(error, 'IGNORED')) {
          outcome.ignored.push(error.message);
          continue;
        }
        // A late redelivery of a message whose person was erased since: acknowledged, not recorded again.
        if (!isOmnithreadError(error, 'CONFLICT')) throw error;
        erased++;
      }
    }
  } catch (error) {
    const reply = failureReply(error);
    return { ...outcome, reply, refused: (reply.body as { error: string }).error };
  }
  const messages = items.filter((i) => i.type === 'message').length;
  outcome.reply = {
    status: 200,
    body: {
      received: messages,
      recorded: outcome.recorded.length,
      duplicates: outcome.duplicates.length + erased,
      ...(outcome.edited.length ? { edited: outcome.edited.length } : {}),
      ...(outcome.outbound.length ? { outbound: outcome.outbound.length } : {}),
      ...(outcome.ignored.length ? { ignored: outcome.ignored.length } : {}),
      ...(items.length > messages ? { statuses: outcome.statuses } : {}),
    },
  };
  return { ...outcome, reply: channel.respond?.(outcome, config) ?? outcome.reply };
}
