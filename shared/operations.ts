/**
 * What the Identity Resolve and Timeline Lookup nodes do, once for both engines. An adapter maps its
 * parameters to one of these operations and shapes the result into items or messages; nothing else.
 */
import { z } from 'zod';
import { HandleInputSchema, parseInput } from './model';
import type { Omnithread } from './omnithread';
import { TimelineFilterSchema } from './timeline/events';
import { MetricsQueryInputSchema } from './facade/metrics';

const id = (what: string) => z.string().trim().min(1, `needs the ${what}`);

const IdentityOperations = z.discriminatedUnion('operation', [
  /** Record a message (e.g. from the trigger) and return its sender: idempotent on its provider id. */
  z.object({ operation: z.literal('resolve'), message: z.unknown() }).strict(),
  /** Find, link or create a person from handles alone; dryRun explains without writing. */
  z.object({ operation: z.literal('resolveHandles'), handles: z.array(HandleInputSchema).min(1).max(32), name: z.string().optional(), dryRun: z.boolean().default(false) }).strict(),
  z.object({ operation: z.literal('get'), contactId: z.string().trim().optional(), handle: HandleInputSchema.optional() }).strict(),
  z.object({ operation: z.literal('merge'), contactId: id('contact id'), otherContactId: id('other contact id'), reason: z.string().optional(), actor: z.string().optional() }).strict(),
  z.object({ operation: z.literal('unmerge'), contactId: z.string().trim().optional(), mergeId: z.string().trim().optional(), actor: z.string().optional() }).strict(),
  z.object({ operation: z.literal('suggestions'), contactId: z.string().trim().optional(), status: z.enum(['open', 'accepted', 'dismissed']).default('open'), limit: z.number().int().min(1).max(1000).default(100) }).strict(),
  z.object({ operation: z.literal('acceptSuggestion'), suggestionId: id('suggestion id'), actor: z.string().optional() }).strict(),
  z.object({ operation: z.literal('dismissSuggestion'), suggestionId: id('suggestion id') }).strict(),
  z.object({ operation: z.literal('export'), contactId: id('contact id') }).strict(),
  z.object({ operation: z.literal('erase'), contactId: id('contact id') }).strict(),
]);

export const IdentityOperationSchema = IdentityOperations.superRefine((op, ctx) => {
  // Operations that accept one of two ways to name their target.
  if (op.operation === 'get' && !op.contactId && !op.handle) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['contactId'], message: 'needs a contact id or a handle to look up' });
  }
  if (op.operation === 'unmerge' && !op.contactId && !op.mergeId) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['contactId'], message: 'needs the merged contact id or a merge id' });
  }
});
export type IdentityOperation = z.input<typeof IdentityOperationSchema>;

export async function runIdentityOperation(ot: Omnithread, input: IdentityOperation): Promise<unknown> {
  const op = parseInput(IdentityOperationSchema, input, 'Identity Resolve parameters');
  switch (op.operation) {
    case 'resolve': {
      const result = await ot.ingest(op.message as never);
      return {
        duplicate: result.duplicate,
        contact: result.contact,
        identity: { created: result.identity.created, explanation: result.identity.explanation, steps: result.identity.steps },
        conversation: result.conversation,
        event: result.event,
        channelSwitch: result.channelSwitch,
      };
    }
    case 'resolveHandles': {
      const { contact, created, explanation, steps, suggestionIds } = await ot.resolve(op.handles, { name: op.name, dryRun: op.dryRun });
      return { contact, identity: { created, explanation, steps, suggestionIds }, dryRun: op.dryRun };
    }
    case 'get': {
      const contact = op.contactId ? await ot.getContact(op.contactId) : await ot.findContact(op.handle!);
      return { found: Boolean(contact), contact: contact ?? null };
    }
    case 'merge': {
      const merge = await ot.merge(op.contactId, op.otherContactId, { reason: op.reason, actor: op.actor });
      return { merge, contact: await ot.getContact(merge.survivorId) };
    }
    case 'unmerge': {
      const merge = await ot.unmerge(op.mergeId ? { mergeId: op.mergeId } : { contactId: op.contactId! }, { actor: op.actor });
      return { merge, contact: await ot.getContact(merge.mergedId), survivor: await ot.getContact(merge.survivorId) };
    }
    case 'suggestions':
      return ot.suggestions({ contactId: op.contactId || undefined, status: op.status, limit: op.limit });
    case 'acceptSuggestion': {
      const merge = await ot.acceptSuggestion(op.suggestionId, { actor: op.actor });
      return { merge, contact: await ot.getContact(merge.survivorId) };
    }
    case 'dismissSuggestion':
      return ot.dismissSuggestion(op.suggestionId);
    case 'export':
      return ot.exportContact(op.contactId);
    case 'erase':
      return ot.eraseContact(op.contactId);
  }
}

export const TimelineOperationSchema = z.discriminatedUnion('operation', [
  /** One output item per event. */
  z.object({ operation: z.literal('items'), contactId: id('contact id'), filter: TimelineFilterSchema.default({}) }).strict(),
  /** One output item with the contact, its conversations and its events. */
  z.object({ operation: z.literal('timeline'), contactId: id('contact id'), filter: TimelineFilterSchema.default({}) }).strict(),
  z.object({ operation: z.literal('transcript'), contactId: id('contact id'), maxTokens: z.number().int().min(50).max(200_000).default(2000) }).strict(),
  z
    .object({
      operation: z.literal('append'),
      contactId: id('contact id'),
      kind: z.string().min(1),
      text: z.string().default(''),
      channel: z.string().optional(),
      conversationId: z.string().optional(),
      data: z.record(z.string(), z.unknown()).default({}),
      idempotencyKey: z.string().optional(),
    })
    .strict(),
  /** Continuity metrics of the whole workspace over a period: no contact. */
  z.object({ operation: z.literal('metrics'), ...MetricsQueryInputSchema.shape }).strict(),
]);
export type TimelineOperation = z.input<typeof TimelineOperationSchema>;

/** The input fields each operation takes, so that an adapter gathers exactly those (and nothing refused). */
function fieldsByOperation(options: readonly z.ZodObject<z.ZodRawShape & { operation: z.ZodLiteral<string> }>[]): Record<string, string[]> {
  return Object.fromEntries(options.map((o) => [o.shape.operation.value, Object.keys(o.shape).filter((k) => k !== 'operation')]));
}
export const IDENTITY_OPERATION_FIELDS = fieldsByOperation(IdentityOperations.options);
export const TIMELINE_OPERATION_FIELDS = fieldsByOperation(TimelineOperationSchema.options);

/** Returns an array for `items` (one per event) and a single object otherwise (`metrics`: the MetricsReport). */
export async function runTimelineOperation(ot: Omnithread, input: TimelineOperation): Promise<unknown> {
  const op = parseInput(TimelineOperationSchema, input, 'Timeline Lookup parameters');
  switch (op.operation) {
    case 'items':
      return (await ot.timeline(op.contactId, op.filter)).events;
    case 'timeline': {
      const page = await ot.timeline(op.contactId, op.filter);
      return { contact: await ot.getContact(op.contactId), conversations: await ot.conversations(op.contactId), events: page.events, nextCursor: page.nextCursor };
    }
    case 'transcript':
      return ot.transcript(op.contactId, { maxTokens: op.maxTokens });
    case 'append': {
      const { kind, text, channel, conversationId, data, idempotencyKey } = op;
      return (await ot.appendEvent(op.contactId, { kind, text, channel, conversationId, data, idempotencyKey })).event;
    }
    case 'metrics': {
      const { from, to, bucket, channel, agentId } = op;
      return ot.metrics({ from, to, bucket, channel, agentId });
    }
  }
}
