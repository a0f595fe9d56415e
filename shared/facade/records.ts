/**
 * What else goes on a person's timeline besides inbound messages: messages we sent (recorded, or reserved
 * before sending and completed after), statuses of earlier messages and calls, and events of the caller's
 * own (notes, assignments, order_placed...). Each write is one transaction and idempotent on its key.
 */
import { z } from 'zod';
import { OmnithreadError } from '../errors';
import {
  AppendEventInput,
  AppendEventInputSchema,
  OutboundMessageInput,
  OutboundMessageInputSchema,
  StatusUpdateInput,
  StatusUpdateInputSchema,
  TimelineEvent,
  handleKey,
  parseInput,
  toMs,
} from '../model';
import { handleOwners, lockRoot } from '../identity/contacts';
import { normalizeHandles } from '../identity/normalize';
import { FAMILY_IDS, SqlTransaction } from '../store/driver';
import { eventByProviderId, eventFromRow, getEvent, insertEvent, openConversation, touchConversation } from '../timeline/events';
import { FacadeContext, conversationOf, delivery, digest, lockFor, remember } from './context';
import { conversationFor } from './conversations';
import type { RecordResult } from './types';

export type OutboundMessage = z.output<typeof OutboundMessageInputSchema>;

/** Records a message we sent (by a human, an AI or a flow). Idempotent on providerMessageId. */
export async function recordOutbound(ctx: FacadeContext, contactId: string, input: OutboundMessageInput): Promise<RecordResult> {
  const message = parseInput(OutboundMessageInputSchema, input, 'outbound message');
  const now = ctx.clock();
  const at = toMs(message.sentAt, now);
  const dedupeKey = message.providerMessageId ? digest('out', message.channel, message.channelAccount, message.providerMessageId) : undefined;
  return recordOnce(ctx, contactId, dedupeKey, now, (tx, rootId) => writeOutbound(ctx, tx, rootId, message, at, now, {}));
}

/** Writes an outbound message in its conversation (the one named, or the person's current one). */
export async function writeOutbound(
  ctx: FacadeContext,
  tx: SqlTransaction,
  rootId: string,
  message: OutboundMessage,
  at: number,
  now: number,
  data: Record<string, unknown>,
): Promise<TimelineEvent> {
  const { conversation } = message.conversationId
    ? { conversation: await conversationOf(ctx, tx, rootId, message.conversationId) }
    : await conversationFor(ctx, tx, rootId, message.channel, at, now);
  const event = await insertEvent(
    tx,
    ctx.workspace,
    {
      contactId: rootId,
      conversationId: conversation.id,
      kind: 'message',
      channel: message.channel,
      channelAccount: message.channelAccount,
      direction: 'outbound',
      text: message.text,
      occurredAt: at,
      providerMessageId: message.providerMessageId ?? null,
      threadKey: message.threadKey ?? null,
      data: {
        attachments: message.attachments,
        ...data,
        ...(message.author ? { author: message.author } : {}),
        ...(message.metadata ? { metadata: message.metadata } : {}),
      },
    },
    now,
  );
  await touchConversation(tx, ctx.workspace, conversation, message.channel, at, { direction: 'outbound' });
  return event;
}

export interface StatusResult {
  recorded: boolean;
  duplicate: boolean;
  event: TimelineEvent | null;
  of: TimelineEvent | null;
  /** For a watermark: how many of our messages it marked (each once). */
  marked?: number;
}

type StatusUpdate = z.output<typeof StatusUpdateInputSchema>;

/**
 * Records what happened to an earlier message or call (delivered, read, failed; a call answered or
 * completed) on the same person's timeline, once per status. A status about something Omnithread never
 * recorded (a message sent from elsewhere) is ignored: `recorded` is false.
 */
export async function recordStatus(ctx: FacadeContext, input: StatusUpdateInput): Promise<StatusResult> {
  const update = parseInput(StatusUpdateInputSchema, input, 'status update');
  if (update.providerMessageId === undefined) return recordWatermark(ctx, update);
  const providerMessageId = update.providerMessageId;
  const now = ctx.clock();
  const dedupeKey = statusKey(update, providerMessageId);
  return ctx.driver.transaction(async (tx) => {
    await lockFor(ctx, tx, 'shared', [`delivery:${dedupeKey}`]);
    const seen = await delivery(ctx, tx, dedupeKey);
    if (seen) {
      const event = seen.event_id ? ((await getEvent(tx, ctx.workspace, seen.event_id)) ?? null) : null;
      return { recorded: false, duplicate: true, event, of: null };
    }
    const of = await eventByProviderId(tx, ctx.workspace, update.channel, providerMessageId);
    if (!of) return { recorded: false, duplicate: false, event: null, of: null };
    await lockRoot(tx, ctx.workspace, of.contactId);
    const event = await writeStatus(ctx, tx, update, of, toMs(update.at, now), update.details, now);
    await remember(ctx, tx, dedupeKey, event.id, now);
    return { recorded: true, duplicate: false, event, of };
  });
}

const statusKey = (update: StatusUpdate, providerMessageId: string): string =>
  digest('status', update.channel, update.channelAccount, providerMessageId, update.status);

function writeStatus(ctx: FacadeContext, tx: SqlTransaction, update: StatusUpdate, of: TimelineEvent, at: number, details: Record<string, unknown>, now: number): Promise<TimelineEvent> {
  return insertEvent(
    tx,
    ctx.workspace,
    {
      contactId: of.contactId,
      conversationId: of.conversationId,
      kind: 'status',
      channel: update.channel,
      channelAccount: update.channelAccount,
      text: '',
      occurredAt: at,
      data: { status: update.status, of: of.id, ...(Object.keys(details).length ? { details } : {}) },
    },
    now,
  );
}

/**
 * A watermark receipt (Messenger, Instagram): every message we sent to the recipient on this account, up
 * to the watermark, has the status; each gets it once, as if the provider had named it. The watermark
 * already applied is kept per recipient and status, so a receipt only looks at what was sent since.
 */
async function recordWatermark(ctx: FacadeContext, update: StatusUpdate): Promise<StatusResult> {
  const now = ctx.clock();
  const upTo = toMs(update.upTo, now);
  const { handles } = normalizeHandles([update.recipient!], ctx.rules);
  const none: StatusResult = { recorded: false, duplicate: false, event: null, of: null, marked: 0 };
  if (!handles.length) return none;
  const cursorKey = `watermark:${update.channel}:${update.channelAccount}:${handleKey(handles[0])}:${update.status}`;
  return ctx.driver.transaction(async (tx) => {
    await lockFor(ctx, tx, 'shared', [cursorKey]);
    const holder = ((await handleOwners(tx, ctx.workspace, handles)).get(handleKey(handles[0])) ?? []).sort((a, b) => b.last_seen_at - a.last_seen_at)[0];
    if (!holder) return none;
    const rootId = await lockRoot(tx, ctx.workspace, holder.root_id);
    const cursor = await tx.get<{ value: string }>('SELECT value FROM cursors WHERE workspace = ? AND key = ?', [ctx.workspace, cursorKey]);
    const since = cursor ? Number(JSON.parse(cursor.value)) : -1;
    if (upTo <= since) return { ...none, duplicate: true };
    const rows = await tx.all<Parameters<typeof eventFromRow>[1]>(
      `SELECT * FROM events WHERE workspace = ? AND contact_id IN (${FAMILY_IDS}) AND channel = ? AND channel_account = ? AND direction = 'outbound'
         AND kind = 'message' AND provider_message_id IS NOT NULL AND occurred_at > ? AND occurred_at <= ? ORDER BY occurred_at, seq`,
      [ctx.workspace, ctx.workspace, rootId, update.channel, update.channelAccount, since, upTo],
    );
    let last: { event: TimelineEvent; of: TimelineEvent } | undefined;
    let marked = 0;
    for (const of of rows.map((row) => eventFromRow(ctx.workspace, row))) {
      const key = statusKey(update, of.providerMessageId!);
      if (await delivery(ctx, tx, key)) continue;
      const event = await writeStatus(ctx, tx, update, of, toMs(update.at, upTo), { ...update.details, watermark: new Date(upTo).toISOString() }, now);
      await remember(ctx, tx, key, event.id, now);
      last = { event, of };
      marked++;
    }
    await tx.run(
      `INSERT INTO cursors (workspace, key, value, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (workspace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      [ctx.workspace, cursorKey, JSON.stringify(upTo), now],
    );
    return { recorded: marked > 0, duplicate: false, event: last?.event ?? null, of: last?.of ?? null, marked };
  });
}

/** Appends a note, an assignment or any event of your own (order_placed, csat ...) to a person's timeline. */
export async function appendEvent(ctx: FacadeContext, contactId: string, input: AppendEventInput): Promise<RecordResult> {
  const parsed = parseInput(AppendEventInputSchema, input, 'event');
  const now = ctx.clock();
  const dedupeKey = parsed.idempotencyKey ? digest('event', parsed.idempotencyKey) : undefined;
  return recordOnce(ctx, contactId, dedupeKey, now, async (tx, rootId) => {
    const conversationId = parsed.conversationId
      ? (await conversationOf(ctx, tx, rootId, parsed.conversationId)).id
      : ((await openConversation(tx, ctx.workspace, rootId))?.id ?? null);
    return insertEvent(
      tx,
      ctx.workspace,
      { contactId: rootId, conversationId, kind: parsed.kind, channel: parsed.channel ?? null, text: parsed.text, occurredAt: toMs(parsed.occurredAt, now), data: parsed.data },
      now,
    );
  });
}

/**
 * Writes one event for a person in a transaction, once per idempotency key: a second call with the
 * same key returns the first event and writes nothing.
 */
export function recordOnce(
  ctx: FacadeContext,
  contactId: string,
  dedupeKey: string | undefined,
  now: number,
  write: (tx: SqlTransaction, rootId: string) => Promise<TimelineEvent>,
): Promise<RecordResult> {
  return ctx.driver.transaction(async (tx) => {
    await lockFor(ctx, tx, 'shared', dedupeKey ? [`delivery:${dedupeKey}`] : []);
    const seen = dedupeKey ? await delivery(ctx, tx, dedupeKey) : undefined;
    if (seen) {
      const event = seen.event_id ? await getEvent(tx, ctx.workspace, seen.event_id) : undefined;
      if (!event) throw new OmnithreadError('CONFLICT', 'This was recorded before and its contact has since been erased; it is not recorded again');
      return { duplicate: true, event };
    }
    const event = await write(tx, await lockRoot(tx, ctx.workspace, contactId));
    if (dedupeKey) await remember(ctx, tx, dedupeKey, event.id, now);
    return { duplicate: false, event };
  });
}
