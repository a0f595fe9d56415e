/**
 * Which conversation a message belongs to. A person has at most one open conversation: a message joins
 * it, unless it has been idle longer than the idle timeout (then it ends and a new one opens). A message
 * on another channel than the conversation's last one is a channel switch, recorded on the timeline so a
 * reader sees the customer moved.
 *
 * A reply continues its story. When a message answers an earlier one (an email's In-Reply-To or
 * References, a Telegram reply, a WhatsApp or Messenger quoted message) and that message's conversation
 * has ended, idle or resolved, the reply reopens it (a `conversation_reopened` event says why) instead of
 * starting a stranger's new episode; and a conversation gone idle is not ended by a reply within it. A
 * person who is already talking in another open conversation stays in that one: one episode at a time.
 */
import { SqlTransaction } from '../store/driver';
import {
  ConversationRow,
  closeConversation,
  conversationOfProviderIds,
  createConversation,
  deferEvent,
  getConversationRow,
  insertEvent,
  openConversation,
  reopenConversation,
} from '../timeline/events';
import type { FacadeContext } from './context';

export interface ConversationChoice {
  conversation: ConversationRow;
  channelSwitch: { from: string; to: string } | null;
  /** Set when a reply reopened an ended conversation. */
  reopened?: { conversationId: string; from: 'idle' | 'resolved' };
}

export interface ConversationHints {
  /** Provider ids of the messages this one answers (see MessageInput.inReplyTo). */
  inReplyTo?: readonly string[];
  /** The person was created by this message: they have no conversation yet, nothing to look up. */
  newContact?: boolean;
  /** The ids of the person's contacts, when the caller has them (resolveInFamily): one statement fewer. */
  familyContactIds?: readonly string[];
}

export async function conversationFor(
  ctx: FacadeContext,
  tx: SqlTransaction,
  rootId: string,
  channel: string,
  at: number,
  now: number,
  hints: ConversationHints = {},
): Promise<ConversationChoice> {
  const repliedId = hints.inReplyTo?.length ? await conversationOfProviderIds(tx, ctx.workspace, rootId, channel, hints.inReplyTo) : undefined;
  let conversation = hints.newContact ? undefined : await openConversation(tx, ctx.workspace, rootId, hints.familyContactIds);
  if (conversation && at - conversation.last_activity_at > ctx.idleTimeoutMs && conversation.id !== repliedId) {
    await closeConversation(tx, ctx.workspace, conversation.id, 'idle', conversation.last_activity_at + ctx.idleTimeoutMs);
    conversation = undefined;
  }
  let reopened: ConversationChoice['reopened'];
  if (!conversation && repliedId) {
    const replied = await getConversationRow(tx, ctx.workspace, repliedId);
    if (replied && replied.status !== 'open') {
      const from = replied.status;
      await reopenConversation(tx, ctx.workspace, replied.id);
      await insertEvent(
        tx,
        ctx.workspace,
        {
          contactId: rootId,
          conversationId: replied.id,
          kind: 'conversation_reopened',
          channel,
          occurredAt: at,
          text: `A reply in this conversation's thread reopened it (it had ended ${from})`,
          data: { from, closedAt: replied.closed_at === null ? null : new Date(replied.closed_at).toISOString() },
        },
        now,
      );
      conversation = { ...replied, status: 'open', closed_at: null };
      reopened = { conversationId: replied.id, from };
    }
  }
  if (!conversation) return { conversation: await createConversation(tx, ctx.workspace, rootId, at, now), channelSwitch: null };
  if (!conversation.last_channel || conversation.last_channel === channel) return { conversation, channelSwitch: null, ...(reopened ? { reopened } : {}) };
  const channelSwitch = { from: conversation.last_channel, to: channel };
  await deferEvent(tx, ctx.workspace, { contactId: rootId, conversationId: conversation.id, kind: 'channel_switch', channel, occurredAt: at, data: channelSwitch }, now);
  return { conversation, channelSwitch, ...(reopened ? { reopened } : {}) };
}
