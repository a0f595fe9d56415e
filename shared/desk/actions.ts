/**
 * What an agent does from the desk, each through the same core a flow uses (the Reply core, the handoff
 * operations, the identity facade), and each left on the person's timeline with the agent's id: a reply is
 * an outbound message authored by the agent, a note a `note` event, an assignment an `assignment` event, a
 * resolve a `status_change`, a merge or unmerge the merge log's actor `desk:<agent id>`.
 */
import { OmnithreadError, isOmnithreadError } from '../errors';
import type { Omnithread } from '../omnithread';
import type { Viewer } from '../facade/desk';
import { acceptHandoff, handOff, handoffState, releaseHandoff, resolveHandoff } from '../routing/handoff';
import { sendReply } from '../reply';
import type { ReplyOptions, ReplyResult } from '../reply';
import type { WriteBody } from './contract';

export interface ActionContext {
  ot: Omnithread;
  viewer: Viewer & { name: string };
  /** Send settings per channel (the desk node's accounts), as the Reply node takes them. */
  reply: Omit<ReplyOptions, 'now'>;
  /** The text of a CSAT request when the agent gives none. */
  csatText: string;
}

const authorOf = (ctx: ActionContext) => ({ id: ctx.viewer.agentId, name: ctx.viewer.name, type: 'human' as const });
export const actorOf = (viewer: Viewer): string => `desk:${viewer.agentId}`;

/** The person (root) a conversation belongs to, after checking the agent may act on it. */
async function conversationFor(ctx: ActionContext, conversationId: string): Promise<{ contactId: string; status: string }> {
  const { conversation, contactId } = await ctx.ot.getConversation(conversationId);
  await requireVisible(ctx.ot, ctx.viewer, contactId);
  return { contactId, status: conversation.status };
}

/** Agents act on the people they can see (their own, unassigned and AI-handled conversations); admins on all. */
export async function requireVisible(ot: Omnithread, viewer: Viewer, contactId: string): Promise<string> {
  const rootId = await ot.deskData().rootOf(contactId);
  if (!(await ot.deskData().canSeePerson(viewer, rootId))) {
    throw new OmnithreadError('FORBIDDEN', `Contact ${rootId} is in another agent's conversations; an admin can open it`, { field: 'contactId' });
  }
  return rootId;
}

async function assigneeOf(ot: Omnithread, contactId: string, conversationId: string): Promise<string | null> {
  return (await ot.deskData().assignments(contactId)).get(conversationId) ?? null;
}

async function recordAssignment(ctx: ActionContext, contactId: string, conversationId: string, agentId: string | null, previous: string | null): Promise<void> {
  await ctx.ot.assignConversation(conversationId, agentId);
  await ctx.ot.appendEvent(contactId, {
    kind: 'assignment',
    conversationId,
    // The page shows the author beside the text ("by <agent>"): the text says only what happened.
    text: agentId ? `Assigned to ${agentId}` : 'Unassigned',
    data: { agentId, previous, author: authorOf(ctx) },
  });
}

export async function reply(ctx: ActionContext, body: WriteBody<'reply'>): Promise<ReplyResult> {
  const contactId = await requireVisible(ctx.ot, ctx.viewer, body.contactId);
  // The agent answers the conversation they have open: the reply joins it (through its latest inbound message on
  // the chosen channel, else its latest), not whichever conversation of the person last heard from the customer.
  let inReplyTo = body.inReplyTo;
  if (!inReplyTo && body.conversationId) {
    const inbound = (await ctx.ot.recentInbound(contactId)).filter((e) => e.conversationId === body.conversationId);
    inReplyTo = (inbound.find((e) => e.channel === body.channel) ?? inbound[0])?.id;
  }
  const result = await sendReply(
    ctx.ot,
    {
      contactId,
      ...(inReplyTo ? { inReplyTo } : {}),
      channel: (body.channel ?? 'same') as never,
      text: body.text,
      // The agent chose the channel: never another one behind their back.
      fallback: false,
      // One send per message typed: the page keeps the clientId when it retries after a network error.
      replyKey: `desk:${body.clientId}`,
      author: authorOf(ctx),
    },
    ctx.reply,
  );
  // Answering an unassigned conversation takes it, as in every shared inbox.
  const conversationId = result.event.conversationId ?? body.conversationId;
  if (!result.duplicate && conversationId) {
    const assignee = await assigneeOf(ctx.ot, contactId, conversationId);
    if (assignee === null && (await ctx.ot.getConversation(conversationId)).conversation.status === 'open') {
      await recordAssignment(ctx, contactId, conversationId, ctx.viewer.agentId, null);
    }
  }
  return result;
}

export async function note(ctx: ActionContext, body: WriteBody<'note'>) {
  const contactId = await requireVisible(ctx.ot, ctx.viewer, body.contactId);
  if (body.conversationId) await conversationFor(ctx, body.conversationId);
  return (
    await ctx.ot.appendEvent(contactId, {
      kind: 'note',
      text: body.text,
      ...(body.conversationId ? { conversationId: body.conversationId } : {}),
      data: { author: authorOf(ctx), internal: true },
      idempotencyKey: `desk-note:${ctx.viewer.agentId}:${body.clientId}`,
    })
  ).event;
}

export async function assign(ctx: ActionContext, body: WriteBody<'assign'>) {
  const { contactId, status } = await conversationFor(ctx, body.conversationId);
  if (status !== 'open') throw new OmnithreadError('CONFLICT', `Conversation ${body.conversationId} is ${status}; only an open conversation can be assigned`, { field: 'conversationId' });
  const target = body.agentId === undefined ? ctx.viewer.agentId : body.agentId;
  const previous = await assigneeOf(ctx.ot, contactId, body.conversationId);
  const mayAssignOthers = ctx.viewer.role === 'admin';
  const allowed = mayAssignOthers || target === ctx.viewer.agentId || (target === null && previous === ctx.viewer.agentId);
  if (!allowed) throw new OmnithreadError('FORBIDDEN', 'An agent can assign a conversation to themselves or give back their own; an admin can assign anyone', { field: 'agentId' });
  if (target && !(await ctx.ot.roster().get(target))) throw new OmnithreadError('NOT_FOUND', `Agent "${target}" is not in the roster`, { field: 'agentId' });
  if (previous === target) return { conversationId: body.conversationId, assignedAgentId: target, changed: false };
  await recordAssignment(ctx, contactId, body.conversationId, target, previous);
  return { conversationId: body.conversationId, assignedAgentId: target, changed: true };
}

export async function accept(ctx: ActionContext, body: WriteBody<'accept'>) {
  await conversationFor(ctx, body.conversationId);
  const state = await handoffState(ctx.ot, body.conversationId);
  if (!state || state.status === 'resolved') {
    throw new OmnithreadError('CONFLICT', `Conversation ${body.conversationId} has no handoff waiting to be accepted; use "Assign to me" instead`, { field: 'conversationId' });
  }
  return acceptHandoff(ctx.ot, { conversationId: body.conversationId, agentId: ctx.viewer.agentId });
}

export async function release(ctx: ActionContext, body: WriteBody<'release'>) {
  const { contactId } = await conversationFor(ctx, body.conversationId);
  const state = await handoffState(ctx.ot, body.conversationId);
  if (state?.status === 'accepted') {
    if (state.agentId !== ctx.viewer.agentId && ctx.viewer.role !== 'admin') throw new OmnithreadError('FORBIDDEN', `Handoff was accepted by ${state.agentId}; only they or an admin can release it`);
    return releaseHandoff(ctx.ot, { conversationId: body.conversationId, agentId: state.agentId ?? ctx.viewer.agentId, ...(body.reason ? { reason: body.reason } : {}) });
  }
  // Assigned without a handoff (a reply took it): giving it back is unassigning it.
  return { ...(await assign(ctx, { conversationId: body.conversationId, agentId: null })), contactId };
}

export async function transfer(ctx: ActionContext, body: WriteBody<'transfer'>) {
  await conversationFor(ctx, body.conversationId);
  if (body.toAgentId && !(await ctx.ot.roster().get(body.toAgentId))) throw new OmnithreadError('NOT_FOUND', `Agent "${body.toAgentId}" is not in the roster`, { field: 'toAgentId' });
  return handOff(ctx.ot, {
    conversationId: body.conversationId,
    ...(body.toAgentId ? { toAgentId: body.toAgentId } : { queue: body.queue }),
    reason: body.reason,
    fromAgentId: ctx.viewer.agentId,
  });
}

export async function resolve(ctx: ActionContext, body: WriteBody<'resolve'>) {
  const { contactId, status } = await conversationFor(ctx, body.conversationId);
  if (status !== 'open') return { conversationId: body.conversationId, status, changed: false };
  const state = await handoffState(ctx.ot, body.conversationId);
  if (state && state.status !== 'resolved') {
    if (state.status === 'accepted' && state.agentId !== ctx.viewer.agentId && ctx.viewer.role !== 'admin') {
      throw new OmnithreadError('FORBIDDEN', `Handoff was accepted by ${state.agentId}; only they or an admin can resolve it`);
    }
    await resolveHandoff(ctx.ot, { conversationId: body.conversationId, ...(state.status === 'accepted' ? { agentId: state.agentId ?? undefined } : {}) });
  } else {
    await ctx.ot.resolveConversation(body.conversationId);
  }
  await ctx.ot.appendEvent(contactId, {
    kind: 'status_change',
    conversationId: body.conversationId,
    text: 'Resolved',
    data: { status: 'resolved', author: authorOf(ctx) },
    idempotencyKey: `desk-resolve:${body.conversationId}`,
  });
  return { conversationId: body.conversationId, status: 'resolved', changed: true };
}

export async function requestCsat(ctx: ActionContext, body: WriteBody<'csat'>) {
  const { contactId } = await conversationFor(ctx, body.conversationId);
  const text = body.text ?? ctx.csatText;
  const sent = await sendReply(ctx.ot, { contactId, channel: 'same', text, fallback: true, replyKey: `desk-csat:${body.conversationId}`, author: authorOf(ctx) }, ctx.reply);
  if (!sent.duplicate) {
    await ctx.ot.appendEvent(contactId, {
      kind: 'csat_requested',
      conversationId: body.conversationId,
      channel: sent.channel,
      text,
      data: { messageEventId: sent.event.id, author: authorOf(ctx) },
      idempotencyKey: `desk-csat:${body.conversationId}`,
    });
  }
  return sent;
}

/** A suggestion's two people: the agent must be able to see at least one of them. */
async function requireSuggestionVisible(ctx: ActionContext, suggestionId: string): Promise<void> {
  const suggestion = await ctx.ot.findSuggestion(suggestionId);
  if (!suggestion) throw new OmnithreadError('NOT_FOUND', `Merge suggestion "${suggestionId}" was not found in this workspace`, { field: 'suggestionId' });
  for (const id of suggestion.contactIds) {
    try {
      await requireVisible(ctx.ot, ctx.viewer, id);
      return;
    } catch (error) {
      if (!isOmnithreadError(error, 'FORBIDDEN') && !isOmnithreadError(error, 'NOT_FOUND')) throw error;
    }
  }
  throw new OmnithreadError('FORBIDDEN', "Both people of this suggestion are in other agents' conversations", { field: 'suggestionId' });
}

export async function acceptSuggestion(ctx: ActionContext, body: WriteBody<'merge-accept'>) {
  await requireSuggestionVisible(ctx, body.suggestionId);
  return ctx.ot.acceptSuggestion(body.suggestionId, { actor: actorOf(ctx.viewer) });
}

export async function dismissSuggestion(ctx: ActionContext, body: WriteBody<'merge-dismiss'>) {
  await requireSuggestionVisible(ctx, body.suggestionId);
  return ctx.ot.dismissSuggestion(body.suggestionId);
}

export async function unmerge(ctx: ActionContext, body: WriteBody<'unmerge'>) {
  const survivor = await mergeSurvivor(ctx.ot, body.mergeId);
  await requireVisible(ctx.ot, ctx.viewer, survivor);
  return ctx.ot.unmerge({ mergeId: body.mergeId }, { actor: actorOf(ctx.viewer) });
}

/** The survivor of a merge of this workspace (NOT_FOUND for a merge id of another workspace). */
async function mergeSurvivor(ot: Omnithread, mergeId: string): Promise<string> {
  const merge = await ot.findMerge(mergeId);
  if (!merge) throw new OmnithreadError('NOT_FOUND', `Merge "${mergeId}" was not found in this workspace`, { field: 'mergeId' });
  return merge.survivorId;
}
