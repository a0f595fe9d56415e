/**
 * Recording an inbound message: the sender is resolved, the event appended and the person's conversation
 * opened or continued, in one transaction. A redelivery of the same provider message changes nothing and
 * says so.
 */
import { OmnithreadError } from '../errors';
import { MessageInput, MessageInputSchema, handleKey, parseInput, toMs } from '../model';
import { normalizeHandles } from '../identity/normalize';
import { resolveIdentity } from '../identity/resolve';
import { SqlExecutor } from '../store/driver';
import { conversationFromRow, getConversationRow, getEvent, insertEvent, threadContact, touchConversation } from '../timeline/events';
import { FacadeContext, contactView, delivery, digest, lockFor, remember, rootOf } from './context';
import { conversationFor } from './conversations';
import type { IngestResult } from './types';

export async function ingest(ctx: FacadeContext, input: MessageInput): Promise<IngestResult> {
  const message = parseInput(MessageInputSchema, input, 'message');
  const { handles, skipped } = normalizeHandles(message.from.handles, ctx.rules);
  const now = ctx.clock();
  const occurredAt = toMs(message.sentAt ?? message.receivedAt, now);
  const dedupeKey = digest('in', message.channel, message.channelAccount, message.providerMessageId);

  return ctx.driver.transaction(async (tx) => {
    await lockFor(ctx, tx, 'shared', [`delivery:${dedupeKey}`, ...handles.map((h) => `handle:${handleKey(h)}`)]);
    const seen = await delivery(ctx, tx, dedupeKey);
    if (seen) return { ...(await duplicateResult(ctx, tx, seen.event_id)), message };

    const threadContactId = message.threadKey ? await threadContact(tx, ctx.workspace, message.channel, message.channelAccount, message.threadKey) : undefined;
    const identity = await resolveIdentity(
      tx,
      { workspace: ctx.workspace, rules: ctx.rules, now, actor: ctx.actor },
      { handles, skipped, name: message.from.name, threadContactId },
    );
    const { conversation, channelSwitch } = await conversationFor(ctx, tx, identity.contactId, message.channel, occurredAt, now);
    const event = await insertEvent(
      tx,
      ctx.workspace,
      {
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
          ...(message.metadata ? { metadata: message.metadata } : {}),
          ...(message.raw !== undefined ? { raw: message.raw } : {}),
          // Not the explanation: it names other people's handles and ids, which an erasure must be able
          // to remove from everywhere.
        },
      },
      now,
    );
    await touchConversation(tx, ctx.workspace, conversation, message.channel, occurredAt);
    await remember(ctx, tx, dedupeKey, event.id, now);
    const row = (await getConversationRow(tx, ctx.workspace, conversation.id))!;
    return {
      duplicate: false,
      message,
      event,
      contact: await contactView(ctx, tx, identity.contactId),
      conversation: conversationFromRow(ctx.workspace, row),
      identity,
      channelSwitch,
    };
  });
}

async function duplicateResult(ctx: FacadeContext, tx: SqlExecutor, eventId: string | null): Promise<Omit<IngestResult, 'message'>> {
  const event = eventId ? await getEvent(tx, ctx.workspace, eventId) : undefined;
  if (!event) {
    // The person was erased after the first delivery: the redelivery is still a redelivery.
    throw new OmnithreadError('CONFLICT', 'This message was recorded before and its contact has since been erased; it is not recorded again');
  }
  const rootId = await rootOf(ctx, tx, event.contactId);
  const row = event.conversationId ? await getConversationRow(tx, ctx.workspace, event.conversationId) : undefined;
  return {
    duplicate: true,
    event,
    contact: await contactView(ctx, tx, rootId),
    conversation: conversationFromRow(ctx.workspace, row!),
    identity: { created: false, explanation: `This message was recorded before (event ${event.id}); a redelivery changes nothing.`, steps: [] },
    channelSwitch: null,
  };
}
