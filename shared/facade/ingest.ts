/**
 * Recording a delivery, in one transaction, idempotent on (channel, channel account, provider message id):
 * - an inbound message: the sender is resolved, the event appended, and the person's conversation opened,
 *   continued or (for a reply in an ended thread) reopened;
 * - a redelivery: nothing changes, and the result says so;
 * - an edit (`editedAt`): the original timeline item is updated in place and its earlier text kept in
 *   `data.edits`, so the transcript and the AI see the latest text once;
 * - one of our own messages seen on the channel (`direction: 'outbound'`, or mail from the store
 *   settings' own addresses): recorded as ours on the customer's timeline, found by the message it
 *   answers, its thread, or its recipients. Mail with no customer in it (between two of our own
 *   addresses) is not recorded: IGNORED.
 */
import { OmnithreadError } from '../errors';
import { ContactView, Conversation, Message, MessageInput, MessageInputSchema, TimelineEvent, handleKey, parseInput, toIso, toMs } from '../model';
import { familyFromJoined, familyJoinedStatement, familyWithHandlesStatement, lockRoot, mergeAttributes } from '../identity/contacts';
import { NormalizedHandle, NormalizedHandles, normalizeHandles } from '../identity/normalize';
import { resolveIdentity, resolveInFamily } from '../identity/resolve';
import { isOwnAddress } from '../identity/rules';
import { SqlExecutor, SqlTransaction } from '../store/driver';
import {
  ConversationRow,
  EventRow,
  NewEvent,
  contactOfProviderIds,
  conversationFromRow,
  eventByProviderId,
  eventFromRow,
  getEvent,
  insertEventStatement,
  threadContact,
  touchStatement,
  touchedRow,
  updateEventContent,
} from '../timeline/events';
import { newId } from '../ids';
import { FacadeContext, claimDelivery, contactViewOf, delivery, digest, keptRaw, lockFor, pointDelivery } from './context';
import { conversationFor } from './conversations';
import { pendingCsat, recordCsat } from './csat';
import type { IngestResult } from './types';

/** At most this many earlier versions of an edited message are kept. */
const MAX_EDITS = 50;

export async function ingest(ctx: FacadeContext, input: MessageInput): Promise<IngestResult> {
  const message = parseInput(MessageInputSchema, input, 'message');
  const from = normalizeHandles(message.from.handles, ctx.rules);
  const own = (h: NormalizedHandle) => h.kind === 'email' && (isOwnAddress(ctx.rules, h.value) || (message.channel === 'email' && h.value === message.channelAccount));
  const ours = message.direction === 'outbound' || from.handles.some((h) => h.kind === 'email' && isOwnAddress(ctx.rules, h.value));
  const recipients = ours ? normalizeHandles(message.to?.handles ?? [], ctx.rules) : undefined;
  const customers: NormalizedHandles = recipients ? { handles: recipients.handles.filter((h) => !own(h)), skipped: recipients.skipped } : from;
  const now = ctx.clock();
  const occurredAt = toMs(message.sentAt ?? message.receivedAt, now);
  const dedupeKey = digest('in', message.channel, message.channelAccount, message.providerMessageId);

  // A message recorded before (a provider's redelivery, or the trigger's message handed to Identity Resolve
  // in the same flow) is answered from a read: no write transaction, no lock. The log of deliveries only
  // grows, so what this one statement finds there stays true (one round trip on PostgreSQL for a new
  // message); an edit still goes through the write below.
  const recorded = message.editedAt === undefined ? await delivery(ctx, ctx.driver, dedupeKey) : undefined;
  if (recorded) return { ...(await ctx.driver.read((db) => duplicateResult(ctx, db, recorded.event_id))), message };

  return ctx.driver.transaction(async (tx) => {
    await lockFor(ctx, tx, 'shared', [`delivery:${dedupeKey}`, ...customers.handles.map((h) => `handle:${handleKey(h)}`)]);
    // The delivery is claimed first, for the event this transaction is about to write: one statement tells
    // a new message from one recorded since the check above and records it (it rolls back with the rest).
    const eventId = newId('ev', now);
    const seen = await claimDelivery(ctx, tx, dedupeKey, eventId, now);
    if (seen) {
      if (message.editedAt !== undefined) return applyEdit(ctx, tx, message, seen.event_id, now);
      return { ...(await duplicateResult(ctx, tx, seen.event_id)), message };
    }
    if (ours) return recordOurs(ctx, tx, message, customers, occurredAt, now, { dedupeKey, eventId });

    const threadKey = message.threadKey;
    const { resolution: identity, familyContactIds } = await resolveInFamily(
      tx,
      { workspace: ctx.workspace, rules: ctx.rules, now, actor: ctx.actor },
      {
        handles: from.handles,
        skipped: from.skipped,
        name: message.from.name,
        threadContact: threadKey ? () => threadContact(tx, ctx.workspace, message.channel, message.channelAccount, threadKey) : undefined,
      },
    );
    if (message.from.attributes && Object.keys(message.from.attributes).length) {
      await mergeAttributes(tx, ctx.workspace, identity.contactId, message.from.attributes, now);
    }
    const csat = message.kind === 'message' ? await pendingCsat(ctx, tx, identity.contactId, message.text, occurredAt) : undefined;
    // A bare score answering a CSAT request stays in the requested conversation (ended or not).
    const { conversation, channelSwitch } = csat
      ? { conversation: csat.conversation, channelSwitch: null }
      : await conversationFor(ctx, tx, identity.contactId, message.channel, occurredAt, now, {
          inReplyTo: message.inReplyTo,
          newContact: identity.created,
          familyContactIds,
        });
    // A CSAT answer is a message of the conversation, but nobody needs to answer it: no wait starts.
    const recorded = await recordItem(
      ctx,
      tx,
      identity.contactId,
      conversation,
      { countMessage: message.kind !== 'interaction', direction: csat ? 'neutral' : 'inbound' },
      {
        id: eventId,
        contactId: identity.contactId,
        conversationId: conversation.id,
        kind: message.kind,
        channel: message.channel,
        channelAccount: message.channelAccount,
        direction: 'inbound',
        text: message.text,
        occurredAt,
        providerMessageId: message.providerMessageId,
        threadKey: message.threadKey ?? null,
        data: {
          ...(message.from.name ? { from: { name: message.from.name } } : {}),
          attachments: message.attachments,
          ...(message.replyTo ? { replyTo: message.replyTo } : {}),
          ...(message.inReplyTo?.length ? { inReplyTo: message.inReplyTo } : {}),
          ...(message.editedAt !== undefined ? { editedAt: toIso(toMs(message.editedAt, now)), edits: [] } : {}),
          ...(message.metadata ? { metadata: message.metadata } : {}),
          ...keptRaw(ctx, message.raw),
          // Not the explanation: it names other people's handles and ids, which an erasure must be able
          // to remove from everywhere.
        },
      },
      now,
      // The CSAT note is written after the answer's item: then the COMMIT can not go with the item.
      { last: !csat },
    );
    if (csat) await recordCsat(ctx, tx, csat, recorded.event, now);
    return {
      effect: 'recorded',
      duplicate: false,
      message,
      ...recorded,
      identity,
      channelSwitch,
    };
  });
}

async function duplicateResult(ctx: FacadeContext, db: SqlExecutor, eventId: string | null): Promise<Omit<IngestResult, 'message'>> {
  const recorded = eventId ? await recordedItem(ctx, db, eventId) : undefined;
  if (!recorded) {
    // The person was erased after the first delivery: the redelivery is still a redelivery.
    throw new OmnithreadError('CONFLICT', 'This message was recorded before and its contact has since been erased; it is not recorded again');
  }
  return {
    effect: 'duplicate',
    duplicate: true,
    ...recorded,
    identity: { created: false, explanation: `This message was recorded before (event ${recorded.event.id}); a redelivery changes nothing.`, steps: [] },
    channelSwitch: null,
  };
}

/**
 * A recorded item with its conversation and its person as callers see them, in one batch that ends the
 * transaction (one round trip on PostgreSQL, with the COMMIT): every caller returns right after it.
 * Undefined when the item is gone (erased).
 */
async function recordedItem(ctx: FacadeContext, db: SqlExecutor, eventId: string): Promise<{ event: TimelineEvent; conversation: Conversation; contact: ContactView } | undefined> {
  const ws = ctx.workspace;
  const [events, conversations, family] = await db.many(
    [
      { sql: 'SELECT * FROM events WHERE workspace = ? AND id = ?', params: [ws, eventId] },
      { sql: 'SELECT * FROM conversations WHERE workspace = ? AND id = (SELECT conversation_id FROM events WHERE workspace = ? AND id = ?)', params: [ws, ws, eventId] },
      familyJoinedStatement(ws, '(SELECT c.root_id FROM events e JOIN contacts c ON c.workspace = e.workspace AND c.id = e.contact_id WHERE e.workspace = ? AND e.id = ?)', [ws, eventId]),
    ],
    { commit: true },
  );
  if (!events.length || !conversations.length || !family.length) return undefined;
  const event = eventFromRow(ws, events[0] as EventRow);
  const contact = familyFromJoined(family);
  return { event, conversation: conversationFromRow(ws, conversations[0] as ConversationRow), contact: contactViewOf(ctx, contact, contact.contacts[0].id) };
}

interface EditVersion {
  text: string;
  /** When this version was written. */
  at: string;
}

/**
 * An edit of a message recorded before: the item takes the newest text, and every other version is kept
 * in data.edits (oldest first). The same edit delivered again changes nothing; an older edit arriving
 * late only joins the history.
 */
async function applyEdit(ctx: FacadeContext, tx: SqlTransaction, message: Message, eventId: string | null, now: number): Promise<IngestResult> {
  const original = eventId ? await getEvent(tx, ctx.workspace, eventId) : undefined;
  if (!original) return { ...(await duplicateResult(ctx, tx, eventId)), message };
  const editedAt = toIso(toMs(message.editedAt, now));
  const currentAt = typeof original.data.editedAt === 'string' ? original.data.editedAt : original.occurredAt;
  const edits = Array.isArray(original.data.edits) ? (original.data.edits as EditVersion[]) : [];
  if (currentAt === editedAt || edits.some((e) => e.at === editedAt)) return { ...(await duplicateResult(ctx, tx, eventId)), message };
  await lockRoot(tx, ctx.workspace, original.contactId);
  const newer = editedAt > currentAt;
  const history = [...edits, newer ? { text: original.text, at: currentAt } : { text: message.text, at: editedAt }].sort((a, b) => (a.at < b.at ? -1 : 1)).slice(-MAX_EDITS);
  const data = { ...original.data, edits: history, editedAt: newer ? editedAt : currentAt };
  await updateEventContent(tx, ctx.workspace, original.id, newer ? message.text : original.text, data);
  const recorded = (await recordedItem(ctx, tx, original.id))!;
  return {
    effect: 'edited',
    duplicate: false,
    message,
    ...recorded,
    identity: {
      created: false,
      explanation: newer
        ? `An edit of message ${message.providerMessageId}: the timeline item ${original.id} now shows the new text; ${history.length} earlier version(s) kept.`
        : `An older edit of message ${message.providerMessageId} arrived late: kept in the item's history, the newer text stays.`,
      steps: [],
    },
    channelSwitch: null,
  };
}

/**
 * One of our own messages seen on the channel: the customer is the person of the message it answers, else
 * of its thread, else its recipients (found, or recorded as a new contact). A mail we sent ourselves
 * (through the Reply node) is already on the timeline under its provider id: a duplicate.
 */
async function recordOurs(
  ctx: FacadeContext,
  tx: SqlTransaction,
  message: Message,
  customers: NormalizedHandles,
  at: number,
  now: number,
  claimed: { dedupeKey: string; eventId: string },
): Promise<IngestResult> {
  const sent = await eventByProviderId(tx, ctx.workspace, message.channel, message.providerMessageId);
  if (sent) {
    await pointDelivery(ctx, tx, claimed.dedupeKey, sent.id);
    return { ...(await duplicateResult(ctx, tx, sent.id)), message };
  }
  const sender = message.from.handles.map((h) => h.value).join(', ');
  let how: string;
  let contactId = await contactOfProviderIds(tx, ctx.workspace, message.channel, message.inReplyTo ?? []);
  how = 'the message it answers';
  if (!contactId && message.threadKey) {
    contactId = await threadContact(tx, ctx.workspace, message.channel, message.channelAccount, message.threadKey);
    how = 'its thread';
  }
  let identity: IngestResult['identity'] | undefined;
  if (!contactId) {
    if (!customers.handles.length) {
      throw new OmnithreadError('IGNORED', `Not recorded: ${message.providerMessageId} is from our own ${sender} and has no customer among its recipients, nor a thread we know`);
    }
    const resolved = await resolveIdentity(tx, { workspace: ctx.workspace, rules: ctx.rules, now, actor: ctx.actor }, { handles: customers.handles, skipped: customers.skipped });
    identity = resolved;
    contactId = resolved.contactId;
    how = 'its recipients';
  }
  const rootId = await lockRoot(tx, ctx.workspace, contactId as string);
  const { conversation, channelSwitch } = await conversationFor(ctx, tx, rootId, message.channel, at, now, { inReplyTo: message.inReplyTo, newContact: identity?.created });
  const recorded = await recordItem(
    ctx,
    tx,
    rootId,
    conversation,
    { direction: 'outbound' },
    {
      id: claimed.eventId,
      contactId: rootId,
      conversationId: conversation.id,
      kind: message.kind,
      channel: message.channel,
      channelAccount: message.channelAccount,
      direction: 'outbound',
      text: message.text,
      occurredAt: at,
      providerMessageId: message.providerMessageId,
      threadKey: message.threadKey ?? null,
      data: {
        attachments: message.attachments,
        author: { id: sender, ...(message.from.name ? { name: message.from.name } : {}), type: 'human' },
        seenOn: 'channel',
        ...(message.inReplyTo?.length ? { inReplyTo: message.inReplyTo } : {}),
        ...(message.metadata ? { metadata: message.metadata } : {}),
        ...keptRaw(ctx, message.raw),
      },
    },
    now,
    { last: true },
  );
  const explanation = `Sent by us (${sender}): recorded as our message on ${rootId}'s timeline, found by ${how}.`;
  return {
    effect: 'outbound',
    duplicate: false,
    message,
    ...recorded,
    identity: identity ? { ...identity, explanation: `${explanation} ${identity.explanation}` } : { created: false, explanation, steps: [] },
    channelSwitch,
  };
}

/**
 * The last steps of recording a message, in one round trip on PostgreSQL: the item is inserted, its
 * conversation counts it, and the person is read as callers see them; with `last`, the COMMIT goes with
 * them (nothing may be written after: see SqlTransaction.many).
 */
async function recordItem(
  ctx: FacadeContext,
  tx: SqlTransaction,
  rootId: string,
  conversation: ConversationRow,
  touch: { countMessage?: boolean; direction: 'inbound' | 'outbound' | 'neutral' },
  item: NewEvent & { channel: string },
  now: number,
  { last }: { last: boolean },
): Promise<{ event: TimelineEvent; conversation: Conversation; contact: ContactView }> {
  const [events, conversations, family] = await tx.many([
    insertEventStatement(ctx.workspace, item, now, true),
    touchStatement(ctx.workspace, conversation, item.channel, item.occurredAt, touch),
    familyWithHandlesStatement(ctx.workspace, rootId),
  ], { commit: last });
  return {
    event: eventFromRow(ctx.workspace, events[0] as EventRow),
    conversation: conversationFromRow(ctx.workspace, touchedRow(conversation, conversations[0])),
    contact: contactViewOf(ctx, familyFromJoined(family), rootId),
  };
}
