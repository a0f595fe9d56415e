/**
 * The Reply node's work, once for both engines: answer a person on the right channel, through the
 * provider's real API, exactly once.
 *
 * - Channel: the channel of the message being answered (default), a chosen channel, or the best one
 *   still open (the person's most recent channel we can reach). Where the answer goes on a channel is
 *   the `replyTo` its parser stored on the person's latest message there (chat id, wa_id, PSID...).
 * - Windows: WhatsApp, Messenger and Instagram only allow free-form answers within 24 hours of the
 *   person's last message on that channel. Outside it, WhatsApp sends the configured template; otherwise
 *   (with fallback on) the answer goes to another channel of the same person that is still open; the
 *   result says which it did and why.
 * - Exactly once: the outbound message is reserved on the timeline before the provider is called, under
 *   a key made of the message being answered and the node's reply key, with a lease (facade/sending.ts).
 *   A re-run of the flow, or another worker running the same reply at the same moment, finds the
 *   reservation: it waits for the sender's outcome and sends nothing if it was sent; an attempt that was
 *   certainly not sent (failed) is sent again; one that may have been sent (unknown: a timeout, a sender
 *   that died mid-send) is looked up at the provider where it lets us (Twilio), and otherwise is only sent
 *   again when the flow asks (resendUnknown).
 * - Retries: rate limits, provider 5xx and an unreachable provider are retried with back-off, honouring
 *   Retry-After, within retryBudgetSeconds (shared/delivery.ts); then the error goes to the flow.
 */
import axios, { type AxiosInstance } from 'axios';
import { z } from 'zod';
import { CHANNELS } from './channels';
import type { ChannelModule, OutboundRequest } from './channels/channel';
import { Delivery, deliveryOf, withBackoff } from './delivery';
import { OmnithreadError, isOmnithreadError } from './errors';
import { DEFAULT_LEASE_MS, SendLease, leaseOf, sendStateOf } from './facade/sending';
import { ChannelSchema, TimelineEvent, parseInput } from './model';
import type { Omnithread } from './omnithread';

const HOUR = 3600 * 1000;

/** Channels whose providers only allow free-form answers for a while after the person's last message. */
export const REPLY_WINDOWS_MS: Record<string, number> = { whatsapp: 24 * HOUR, messenger: 24 * HOUR, instagram: 24 * HOUR };

export const ReplyRequestSchema = z
  .object({
    contactId: z.string().trim().min(1, 'needs the contact id'),
    /** The id of the inbound event being answered (the trigger's event.id). Default: the person's latest. */
    inReplyTo: z.string().trim().min(1).optional(),
    /** 'same' (the answered message's channel), 'bestOpen', or a channel id. */
    channel: z.union([z.literal('same'), z.literal('bestOpen'), ChannelSchema]).default('same'),
    text: z.string().max(100_000).default(''),
    media: z
      .object({ url: z.string().url(), type: z.enum(['image', 'video', 'audio', 'document']).default('image'), caption: z.string().optional(), filename: z.string().optional() })
      .strict()
      .optional(),
    /** Sent on WhatsApp instead when its 24-hour window has closed. */
    whatsappTemplate: z.object({ name: z.string().min(1), language: z.string().min(2).default('en'), parameters: z.array(z.string()).default([]) }).strict().optional(),
    /** When the chosen channel cannot be used now, use another channel of the same person still open. */
    fallback: z.boolean().default(true),
    /** Tells apart several different answers to one message (one per Reply node, say). */
    replyKey: z.string().min(1).max(200).default('reply'),
    author: z.object({ id: z.string().optional(), name: z.string().optional(), type: z.enum(['human', 'ai', 'system']).default('ai') }).strict().optional(),
    /** Seconds to keep retrying a rate limit, a provider 5xx or an unreachable provider (with back-off). 0 = one attempt. */
    retryBudgetSeconds: z.number().min(0).max(600).default(30),
    /** Send again an answer whose earlier attempt ended unknown (it may have reached the person). */
    resendUnknown: z.boolean().default(false),
  })
  .strict()
  .refine((r) => r.text.trim() || r.media, { message: 'needs a text or a media URL to send', path: ['text'] });
export type ReplyRequest = z.input<typeof ReplyRequestSchema>;

export interface ReplyResult {
  /** True when this answer was sent before (a re-run): nothing was sent now. */
  duplicate: boolean;
  channel: string;
  /** 'message' on the intended channel, 'template' (WhatsApp outside its window), 'fallback' (another channel). */
  via: 'message' | 'template' | 'fallback';
  providerMessageId: string | null;
  /** The outbound event on the timeline. */
  event: TimelineEvent;
  explanation: string;
}

export interface ReplyOptions {
  /** Send settings per channel id (token, account...), validated by each channel's sendConfigSchema. */
  channels: Record<string, unknown>;
  http?: AxiosInstance;
  /** The channel modules to use (tests); default: every registered channel. */
  modules?: Record<string, ChannelModule<unknown>>;
  /** Defaults to the facade's clock (ot.now()), so a test's injected clock covers the window checks too. */
  now?: () => number;
  /** Waits between retries and polls (tests). */
  sleep?: (ms: number) => Promise<void>;
  /** How long to wait for another run sending the same answer (default: the retry budget + 20 s), and how often to look. */
  inFlightWaitMs?: number;
  pollMs?: number;
}

interface Plan {
  channel: string;
  module: ChannelModule<unknown>;
  config: unknown;
  to: Record<string, unknown>;
  account: string;
  via: ReplyResult['via'];
  request: OutboundRequest;
}

export async function sendReply(ot: Omnithread, input: ReplyRequest, options: ReplyOptions): Promise<ReplyResult> {
  const request = parseInput(ReplyRequestSchema, input, 'reply');
  const modules = options.modules ?? CHANNELS;
  const now = options.now ? options.now() : ot.now();
  const inbound = await ot.recentInbound(request.contactId);
  const answered = request.inReplyTo ? inbound.find((e) => e.id === request.inReplyTo) : inbound[0];
  if (request.inReplyTo && !answered) {
    throw new OmnithreadError('NOT_FOUND', `Event "${request.inReplyTo}" is not an inbound message of contact ${request.contactId}`, { field: 'inReplyTo' });
  }
  // The latest inbound message per channel: where to answer on it, and whether its window is open.
  const latest = new Map<string, TimelineEvent>();
  for (const event of inbound) if (event.channel && !latest.has(event.channel)) latest.set(event.channel, event);

  const first = request.channel === 'same' ? answered?.channel : request.channel === 'bestOpen' ? undefined : request.channel;
  const byRecency = [...latest.keys()];
  const order = first ? [first, ...(request.fallback ? byRecency.filter((c) => c !== first) : [])] : byRecency;
  if (!order.length) throw new OmnithreadError('INVALID_INPUT', `Contact ${request.contactId} has written on no channel yet: there is nowhere to answer`, { field: 'channel' });

  const reasons: string[] = [];
  const plans: Plan[] = [];
  for (const channel of order) {
    const plan = planFor(channel, channel === first || !first ? 'message' : 'fallback');
    if (typeof plan === 'string') reasons.push(`${channel}: ${plan}`);
    else plans.push(plan);
  }
  if (!plans.length) {
    const closed = reasons.some((r) => r.includes('window'));
    throw new OmnithreadError(closed ? 'WINDOW_CLOSED' : 'INVALID_INPUT', `No channel can take this answer now. ${reasons.join('; ')}`, { field: 'channel', details: { reasons } });
  }

  function planFor(channel: string, via: Plan['via']): Plan | string {
    const module = modules[channel];
    if (!module?.send || !module.sendConfigSchema) return 'Omnithread cannot send on this channel';
    if (!(channel in options.channels)) return 'no send settings (credentials) for this channel';
    const config = parseInput(module.sendConfigSchema, options.channels[channel], `${module.displayName} send settings`);
    const last = latest.get(channel);
    const to = last?.data.replyTo as Record<string, unknown> | undefined;
    if (!last || !to) return 'the person has no message on this channel to answer';
    const window = REPLY_WINDOWS_MS[channel];
    const open = window === undefined || now - Date.parse(last.occurredAt) <= window;
    const base = { channel, module, config, to, account: last.channelAccount ?? '' };
    if (open) return { ...base, via, request: { to, text: request.text, ...(request.media ? { media: request.media } : {}) } };
    if (channel === 'whatsapp' && request.whatsappTemplate) {
      return { ...base, via: 'template', request: { to, text: request.text, template: request.whatsappTemplate } };
    }
    return `its ${window / HOUR}-hour window closed (last message ${last.occurredAt})${channel === 'whatsapp' ? ' and no template is set' : ''}`;
  }

  const key = `${request.contactId}\n${answered?.id ?? 'latest'}\n${request.replyKey}`;
  const leaseMs = DEFAULT_LEASE_MS + request.retryBudgetSeconds * 1000;
  const reservation = await ot.reserveOutbound(
    request.contactId,
    key,
    {
      channel: plans[0].channel,
      channelAccount: plans[0].account,
      conversationId: answered?.conversationId ?? undefined,
      text: request.text,
      attachments: request.media ? [{ url: request.media.url, caption: request.media.caption, name: request.media.filename }] : [],
      author: request.author,
      metadata: { inReplyTo: answered?.id ?? null, replyKey: request.replyKey },
    },
    { leaseMs },
  );
  const http = options.http ?? axios.create({ timeout: 15_000 });
  const sender: Sender = { ot, http, plans, leaseMs, request, options };
  let lease = reservation.lease;
  let reserved = reservation.event;
  if (!reservation.reserved) {
    const taken = await takeOver(sender, reserved);
    if ('result' in taken) return taken.result;
    ({ lease, event: reserved } = taken);
  }

  let lastError: OmnithreadError | undefined;
  for (const plan of plans) {
    try {
      const { value: sent, attempts } = await withBackoff(() => plan.module.send!(plan.request, plan.config, http), {
        budgetSeconds: request.retryBudgetSeconds,
        ...(options.sleep ? { sleep: options.sleep } : {}),
      });
      const event = await ot.completeOutbound(reserved.id, {
        state: 'sent',
        channel: plan.channel,
        channelAccount: plan.account,
        providerMessageId: sent.providerMessageId,
        lease,
        details: { via: plan.via, attempts, ...(reasons.length ? { skipped: reasons } : {}) },
      });
      const why = plan.via === 'template' ? ' as the WhatsApp template (the 24-hour window had closed)' : plan.via === 'fallback' ? ` instead of ${first} (${reasons.join('; ')})` : '';
      return { duplicate: false, channel: plan.channel, via: plan.via, providerMessageId: sent.providerMessageId, event, explanation: `Sent on ${plan.channel}${why}` };
    } catch (error) {
      lastError = isOmnithreadError(error) ? error : new OmnithreadError('PROVIDER_ERROR', String((error as Error)?.message ?? error), { details: { delivery: 'unknown' } });
      reasons.push(`${plan.channel}: ${lastError.message}`);
      // Only a closed window sends us on to the next channel; anything else is for the flow to handle.
      if (!(lastError.code === 'WINDOW_CLOSED' && request.fallback)) break;
    }
  }
  const delivery = deliveryOf(lastError);
  await ot
    .completeOutbound(reserved.id, {
      state: delivery === 'unknown' ? 'unknown' : 'failed',
      channel: plans[0].channel,
      lease,
      details: { error: { code: lastError!.code, message: lastError!.message }, delivery },
    })
    .catch((error: unknown) => {
      // Taken over while we tried (we ran past the lease): its outcome stands; ours is still the error to report.
      if (!isOmnithreadError(error, 'CONFLICT')) throw error;
    });
  throw outcomeError(lastError!, reserved.id, delivery);
}

interface Sender {
  ot: Omnithread;
  http: AxiosInstance;
  plans: Plan[];
  leaseMs: number;
  request: z.output<typeof ReplyRequestSchema>;
  options: ReplyOptions;
}

/**
 * The answer was reserved before (a re-run, or another run at the same time). Wait while another sender
 * holds it; then it is either done (sent: a duplicate, nothing sent), or ours to send again: failed
 * (not sent), or unknown once the provider confirms it has no such message, or when the flow says to
 * resend anyway. Returns the lease to send with, or the result when there is nothing to send.
 */
async function takeOver(sender: Sender, reserved: TimelineEvent): Promise<{ result: ReplyResult } | { lease: SendLease; event: TimelineEvent }> {
  const { ot, request, options } = sender;
  const waitMs = options.inFlightWaitMs ?? (request.retryBudgetSeconds + 20) * 1000;
  const pollMs = options.pollMs ?? 200;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const started = performance.now();
  let event = reserved;
  for (;;) {
    if (sendStateOf(event) === 'sent') return { result: alreadySent(event, sender.plans[0].channel) };
    const claim = await ot.claimOutbound(event.id, { from: ['failed', 'unknown'], leaseMs: sender.leaseMs });
    event = claim.event;
    if (claim.claimed && claim.lease) {
      if (event.data.claimedFrom !== 'unknown') return { lease: claim.lease, event };
      const reconciled = await reconcile(sender, event, claim.lease);
      if (reconciled) return reconciled;
      if (request.resendUnknown) return { lease: claim.lease, event };
      const kept = await ot.completeOutbound(event.id, { state: 'unknown', channel: event.channel ?? '', providerMessageId: event.providerMessageId ?? undefined, lease: claim.lease, details: (event.data.send as Record<string, unknown>) ?? {} });
      throw unknownError(kept);
    }
    if (sendStateOf(event) !== 'pending') return { result: alreadySent(event, sender.plans[0].channel) };
    if (performance.now() - started >= waitMs) {
      throw new OmnithreadError('CONFLICT', `This answer is being sent by another run right now (event ${event.id}): not sent twice. Its outcome will be on the timeline.`, {
        details: { eventId: event.id, sendState: 'pending', inFlight: true, leaseUntil: leaseOf(event)?.until },
      });
    }
    await sleep(pollMs);
    event = (await ot.getEvent(event.id)) ?? event;
  }
}

/** An unknown send: asks the provider, where it lets us, whether it has the message. */
async function reconcile(sender: Sender, event: TimelineEvent, lease: SendLease): Promise<{ result: ReplyResult } | { lease: SendLease; event: TimelineEvent } | undefined> {
  const plan = sender.plans.find((p) => p.channel === event.channel);
  if (!plan?.module.findSent) return undefined;
  const since = Date.parse(event.occurredAt);
  let found: string | null | undefined;
  try {
    found = await plan.module.findSent(plan.request, plan.config, sender.http, since);
  } catch {
    found = undefined; // the lookup failing says nothing either way
  }
  if (found === undefined) return undefined;
  if (found === null) return { lease, event }; // the provider has no such message: it was not sent
  const sent = await sender.ot.completeOutbound(event.id, {
    state: 'sent',
    channel: plan.channel,
    channelAccount: plan.account,
    providerMessageId: found,
    lease,
    details: { via: plan.via, reconciled: `${plan.module.displayName} has this message (${found}): the earlier send went through` },
  });
  return { result: alreadySent(sent, plan.channel) };
}

function alreadySent(event: TimelineEvent, fallbackChannel: string): ReplyResult {
  const reconciled = (event.data.send as { reconciled?: string } | undefined)?.reconciled;
  return {
    duplicate: true,
    channel: event.channel ?? fallbackChannel,
    via: (event.data.send as { via?: ReplyResult['via'] } | undefined)?.via ?? 'message',
    providerMessageId: event.providerMessageId,
    event,
    explanation: `Already answered on ${event.channel} (event ${event.id}): not sent again${reconciled ? `. ${reconciled}` : ''}`,
  };
}

function unknownError(event: TimelineEvent): OmnithreadError {
  return new OmnithreadError(
    'PROVIDER_ERROR',
    `An earlier attempt to send this answer on ${event.channel} ended without knowing whether it was sent (event ${event.id}): not sent again, so the person does not get it twice. Check on ${event.channel}; to send it anyway, run again with "Resend Unknown" on.`,
    { details: { eventId: event.id, delivery: 'unknown', sendState: 'unknown', earlier: event.data.send } },
  );
}

/** The error a failed send throws: the provider's, with whether it was sent and the event on the timeline. */
function outcomeError(error: OmnithreadError, eventId: string, delivery: Delivery): OmnithreadError {
  const message = delivery === 'unknown' ? `${error.message}. It may or may not have been sent: it is recorded as unknown and will not be sent again on its own` : error.message;
  return new OmnithreadError(error.code, message, { field: error.field, details: { ...((error.details as object) ?? {}), delivery, eventId } });
}
