/**
 * Which conversation a message belongs to. A person has at most one open conversation: a message joins
 * it, unless it has been idle longer than the idle timeout (then it ends and a new one opens). A message
 * on another channel than the conversation's last one is a channel switch, recorded on the timeline so a
 * reader sees the customer moved.
 */
import { SqlTransaction } from '../store/driver';
import { ConversationRow, closeConversation, createConversation, insertEvent, openConversation } from '../timeline/events';
import type { FacadeContext } from './context';

export interface ConversationChoice {
  conversation: ConversationRow;
  channelSwitch: { from: string; to: string } | null;
}

export async function conversationFor(ctx: FacadeContext, tx: SqlTransaction, rootId: string, channel: string, at: number, now: number): Promise<ConversationChoice> {
  let conversation = await openConversation(tx, ctx.workspace, rootId);
  if (conversation && at - conversation.last_activity_at > ctx.idleTimeoutMs) {
    await closeConversation(tx, ctx.workspace, conversation.id, 'idle', conversation.last_activity_at + ctx.idleTimeoutMs);
    conversation = undefined;
  }
  if (!conversation) return { conversation: await createConversation(tx, ctx.workspace, rootId, at, now), channelSwitch: null };
  if (!conversation.last_channel || conversation.last_channel === channel) return { conversation, channelSwitch: null };
  const channelSwitch = { from: conversation.last_channel, to: channel };
  await insertEvent(tx, ctx.workspace, { contactId: rootId, conversationId: conversation.id, kind: 'channel_switch', channel, occurredAt: at, data: channelSwitch }, now);
  return { conversation, channelSwitch };
}
