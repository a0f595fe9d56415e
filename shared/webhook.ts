/**
 * One webhook delivery, from request to reply, for every channel and both engines:
 * handshake -> signature (401/403, nothing stored) -> parse and validate every message (400 naming the
 * field, nothing stored) -> record each message (a redelivery is recognised) -> 200.
 * Messages are recorded before the provider gets its 200, so nothing acknowledged is ever lost; a store
 * failure answers 503 so the provider delivers again.
 */
import { OmnithreadError, isOmnithreadError } from './errors';
import { MessageInputSchema, parseInput } from './model';
import type { IngestResult, Omnithread } from './omnithread';
import type { ChannelModule, WebhookReply, WebhookRequest } from './channels/channel';

export interface WebhookOutcome {
  reply: WebhookReply;
  /** Newly recorded messages: what the flow should run for. Redeliveries are not in here. */
  recorded: IngestResult[];
  duplicates: IngestResult[];
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

export function channelConfig<C>(channel: ChannelModule<C>, settings: unknown): C {
  return parseInput(channel.configSchema, settings ?? {}, `${channel.displayName} channel settings`);
}

export async function handleWebhook<C>(ot: Omnithread, channel: ChannelModule<C>, config: C, request: WebhookRequest): Promise<WebhookOutcome> {
  const challenge = channel.challenge?.(request, config);
  if (challenge) return { reply: challenge, recorded: [], duplicates: [] };

  const verification = channel.verify(request, config);
  if (!verification.ok) {
    return { reply: { status: verification.status, body: { error: `Signature check failed: ${verification.reason}` } }, recorded: [], duplicates: [], refused: verification.reason };
  }

  let messages;
  try {
    // Validate every message before recording any, so a bad one in a batch stores nothing at all.
    messages = channel.parse(request, config).map((m, i, all) => parseInput(MessageInputSchema, m, all.length > 1 ? `message ${i + 1}` : 'message'));
  } catch (error) {
    if (!isOmnithreadError(error, 'INVALID_INPUT')) throw error;
    return { reply: { status: 400, body: { error: error.message, field: error.field } }, recorded: [], duplicates: [], refused: error.message };
  }

  const recorded: IngestResult[] = [];
  const duplicates: IngestResult[] = [];
  let erased = 0;
  try {
    for (const message of messages) {
      try {
        const result = await ot.ingest(message);
        (result.duplicate ? duplicates : recorded).push(result);
      } catch (error) {
        // A late redelivery of a message whose person was erased since: acknowledged, not recorded again.
        if (!isOmnithreadError(error, 'CONFLICT')) throw error;
        erased++;
      }
    }
  } catch (error) {
    const reason = error instanceof OmnithreadError ? error.message : `store error: ${(error as Error).message}`;
    return { reply: { status: 503, body: { error: `Not recorded, please retry: ${reason}` } }, recorded, duplicates, refused: reason };
  }
  return {
    reply: { status: 200, body: { received: messages.length, recorded: recorded.length, duplicates: duplicates.length + erased } },
    recorded,
    duplicates,
  };
}
