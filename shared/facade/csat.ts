/**
 * A customer's answer to a CSAT request, recognised where it arrives: after the desk (or a flow) recorded
 * `csat_requested` in a conversation, a reply that is only a score ("5", "4/5", "3 ⭐") within a week is
 * recorded as a `csat` event in that conversation, which the continuity metrics read. Only a message that
 * looks like a bare score costs a lookup, so everyday messages pay nothing. The reply itself stays in the
 * requested conversation: a "5" after a resolve does not open a new conversation for an agent to answer.
 */
import { FAMILY_IDS, SqlTransaction } from '../store/driver';
import { TimelineEvent } from '../model';
import { ConversationRow, eventFromRow, getConversationRow, insertEvent } from '../timeline/events';
import type { FacadeContext } from './context';

/** How long after a request an answer still counts. */
export const CSAT_ANSWER_WINDOW_MS = 7 * 24 * 3600 * 1000;

/** The score of a message that is nothing but a 1-5 rating ("5", "4/5", "3 out of 5", "5!", "4 ⭐"), else undefined. */
export function csatScoreOf(text: string): number | undefined {
  const match = /^\s*([1-5])\s*(?:(?:\/|out of|of)\s*5)?\s*[!.]*\s*(?:[⭐★☆]\s*)*$/iu.exec(text);
  return match ? Number(match[1]) : undefined;
}

export interface PendingCsat {
  request: TimelineEvent;
  conversation: ConversationRow;
  score: number;
}

/** The person's newest unanswered CSAT request within the window, when the message is a bare score. */
export async function pendingCsat(ctx: FacadeContext, tx: SqlTransaction, rootId: string, text: string, at: number): Promise<PendingCsat | undefined> {
  const score = csatScoreOf(text);
  if (score === undefined) return undefined;
  const row = await tx.get<Parameters<typeof eventFromRow>[1]>(
    `SELECT * FROM events WHERE workspace = ? AND contact_id IN (${FAMILY_IDS}) AND kind = 'csat_requested' AND occurred_at >= ? AND occurred_at <= ?
      ORDER BY occurred_at DESC, seq DESC LIMIT 1`,
    [ctx.workspace, ctx.workspace, rootId, at - CSAT_ANSWER_WINDOW_MS, at],
  );
  if (!row?.conversation_id) return undefined;
  const answered = await tx.get(
    `SELECT 1 AS x FROM events WHERE workspace = ? AND conversation_id = ? AND kind = 'csat' AND occurred_at >= ? LIMIT 1`,
    [ctx.workspace, row.conversation_id, row.occurred_at],
  );
  if (answered) return undefined;
  const conversation = await getConversationRow(tx, ctx.workspace, String(row.conversation_id));
  return conversation ? { request: eventFromRow(ctx.workspace, row), conversation, score } : undefined;
}

export function recordCsat(ctx: FacadeContext, tx: SqlTransaction, pending: PendingCsat, answer: TimelineEvent, now: number): Promise<TimelineEvent> {
  return insertEvent(
    tx,
    ctx.workspace,
    {
      contactId: answer.contactId,
      conversationId: pending.conversation.id,
      kind: 'csat',
      channel: answer.channel,
      text: `CSAT ${pending.score}/5`,
      occurredAt: Date.parse(answer.occurredAt),
      data: { score: pending.score, scale: 5, requestEventId: pending.request.id, messageEventId: answer.id },
    },
    now,
  );
}
