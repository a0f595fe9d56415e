/**
 * Sending exactly once. Before a provider is called, the outbound message is reserved on the timeline
 * under a key (the message answered and the Reply node's key), as `pending` with a lease: who is sending
 * it, and until when. Everything that can happen next is one of four states:
 *
 *   pending  a sender holds the lease and is calling the provider. Another run of the same reply waits
 *            for the outcome; it never calls the provider too.
 *   sent     the provider accepted it (its message id recorded). Nothing sends it again.
 *   failed   NOT sent: the provider refused it, or could not be reached at all. A later run may claim it
 *            and try again.
 *   unknown  it may or may not have been sent: the request left and no answer came (a timeout, a dropped
 *            connection), or the sender died while its lease ran (the lease expired with the message still
 *            pending). It is never sent again on its own: a person (or a flow, on purpose) decides.
 *
 * Claims and completions are transactions on the event: of two runs, one claims; a sender whose lease
 * was taken over can not overwrite the outcome of the one that took it.
 */
import { randomUUID } from 'node:crypto';
import { OmnithreadError, notFound } from '../errors';
import { OutboundMessageInput, OutboundMessageInputSchema, TimelineEvent, parseInput } from '../model';
import { completeOutboundEvent, getEvent } from '../timeline/events';
import { FacadeContext, digest, lockFor } from './context';
import { recordOnce, writeOutbound } from './records';

export type SendState = 'pending' | 'sent' | 'failed' | 'unknown';

/** Who holds a pending send, and until when (epoch ms). */
export interface SendLease {
  id: string;
  until: number;
}

/** How long a sender may hold a pending send before it counts as interrupted. Covers a slow provider call. */
export const DEFAULT_LEASE_MS = 120_000;

export const sendStateOf = (event: TimelineEvent): SendState | undefined => event.data.sendState as SendState | undefined;
export const leaseOf = (event: TimelineEvent): SendLease | undefined => event.data.lease as SendLease | undefined;

export interface Reservation {
  /** True when this call made the reservation: the caller holds the lease and sends. */
  reserved: boolean;
  event: TimelineEvent;
  /** The lease the caller holds (when reserved). */
  lease?: SendLease;
}

/**
 * Reserves an outbound message before it is sent, once per key: the first call records it as `pending`
 * with a lease and returns `reserved: true`; a later call with the same key returns that event, in
 * whatever state it is, so a re-run of a flow never sends twice. Complete it with completeOutbound.
 */
export async function reserveOutbound(ctx: FacadeContext, contactId: string, key: string, input: OutboundMessageInput, options: { leaseMs?: number } = {}): Promise<Reservation> {
  const message = parseInput(OutboundMessageInputSchema, input, 'outbound message');
  const now = ctx.clock();
  const lease: SendLease = { id: randomUUID(), until: now + (options.leaseMs ?? DEFAULT_LEASE_MS) };
  const result = await recordOnce(ctx, contactId, digest('send', key), now, (tx, rootId) => writeOutbound(ctx, tx, rootId, message, now, now, { sendState: 'pending', lease }));
  return result.duplicate ? { reserved: false, event: result.event } : { reserved: true, event: result.event, lease };
}

/**
 * Takes over a reserved message to send it (again): atomically, only from one of the states given, and a
 * pending one only once its lease has expired. A pending message whose lease expired becomes `unknown`
 * first (its sender died mid-send): it is claimed only when `unknown` is among the states given.
 * Returns the event as it is now, and the lease when this call claimed it.
 */
export async function claimOutbound(ctx: FacadeContext, eventId: string, options: { from: readonly SendState[]; leaseMs?: number }): Promise<{ claimed: boolean; event: TimelineEvent; lease?: SendLease }> {
  const now = ctx.clock();
  return ctx.driver.transaction(async (tx) => {
    await lockFor(ctx, tx, 'shared', [`send:${eventId}`]);
    let event = await outboundEvent(ctx, tx, eventId);
    const lease = leaseOf(event);
    if (sendStateOf(event) === 'pending' && lease && lease.until <= now) {
      event = await completeOutboundEvent(tx, ctx.workspace, event, {
        channel: event.channel ?? '',
        channelAccount: event.channelAccount ?? '',
        providerMessageId: event.providerMessageId,
        data: { sendState: 'unknown', lease: null, send: { reason: `its sender held it until ${new Date(lease.until).toISOString()} and never recorded the outcome (it stopped mid-send?)` } },
      });
    }
    const state = sendStateOf(event);
    if (!state || !options.from.includes(state)) return { claimed: false, event };
    const claimed: SendLease = { id: randomUUID(), until: now + (options.leaseMs ?? DEFAULT_LEASE_MS) };
    event = await completeOutboundEvent(tx, ctx.workspace, event, {
      channel: event.channel ?? '',
      channelAccount: event.channelAccount ?? '',
      providerMessageId: event.providerMessageId,
      data: { sendState: 'pending', lease: claimed, claimedFrom: state },
    });
    return { claimed: true, event, lease: claimed };
  });
}

export interface OutboundOutcome {
  /** sent: accepted by the provider; failed: not sent; unknown: may or may not have been sent. */
  state: 'sent' | 'failed' | 'unknown';
  channel: string;
  channelAccount?: string;
  providerMessageId?: string;
  details?: Record<string, unknown>;
  /** The lease the sender holds: the outcome is refused (CONFLICT) when someone else has taken it over since. */
  lease?: SendLease;
}

/** Records how a reserved outbound message went: sent (with the provider's id), failed or unknown (with why). */
export async function completeOutbound(ctx: FacadeContext, eventId: string, outcome: OutboundOutcome): Promise<TimelineEvent> {
  return ctx.driver.transaction(async (tx) => {
    await lockFor(ctx, tx, 'shared', [`send:${eventId}`]);
    const event = await outboundEvent(ctx, tx, eventId);
    const held = leaseOf(event);
    // A sender whose lease was taken over (it ran past it) may not overwrite what was decided since; only a
    // late "sent" still settles an answer left unknown, since it is the truth about it.
    const lateButSettles = outcome.state === 'sent' && sendStateOf(event) === 'unknown';
    if (outcome.lease && held?.id !== outcome.lease.id && !lateButSettles) {
      throw new OmnithreadError('CONFLICT', `Outbound message ${eventId} was taken over by another sender: this outcome (${outcome.state}) is not recorded`, {
        details: { sendState: sendStateOf(event) },
      });
    }
    return completeOutboundEvent(tx, ctx.workspace, event, {
      channel: outcome.channel,
      channelAccount: outcome.channelAccount ?? event.channelAccount ?? '',
      providerMessageId: outcome.providerMessageId ?? null,
      data: { sendState: outcome.state, lease: null, ...(outcome.details ? { send: outcome.details } : {}) },
    });
  });
}

async function outboundEvent(ctx: FacadeContext, db: Parameters<typeof getEvent>[0], eventId: string): Promise<TimelineEvent> {
  const event = await getEvent(db, ctx.workspace, eventId);
  if (!event || event.direction !== 'outbound') throw notFound('Outbound message', eventId);
  return event;
}
