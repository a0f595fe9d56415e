/**
 * People: resolving handles to a contact without a message, looking a person up, merging and unmerging
 * them by hand, reviewing merge suggestions, and setting their attributes.
 */
import { z } from 'zod';
import { OmnithreadError, notFound } from '../errors';
import { ContactView, HandleInput, HandleInputSchema, handleKey, parseInput } from '../model';
import {
  MergeRecord,
  MergeSuggestion,
  activeMergeOf,
  familyRows,
  getMerge,
  getSuggestion,
  handleOwners,
  listSuggestions,
  lockRoot,
  mergeAttributes,
  mergeRoots,
  mergesOfFamily,
  setSuggestionStatus,
  survivorFirst,
  undoMerge,
} from '../identity/contacts';
import { normalizeHandles } from '../identity/normalize';
import { Resolution, resolveIdentity } from '../identity/resolve';
import { FacadeContext, contactView, lockFor, rootOf } from './context';

/**
 * Resolves handles to a contact without a message: finds, links or creates the person and explains how.
 * With `dryRun`, says what would happen and writes nothing.
 */
export async function resolve(
  ctx: FacadeContext,
  inputs: HandleInput[],
  options: { name?: string; dryRun?: boolean } = {},
): Promise<Resolution & { contact: ContactView }> {
  const list = parseInput(z.array(HandleInputSchema).min(1, 'needs at least one handle').max(32), inputs, 'handles');
  const { handles, skipped } = normalizeHandles(list, ctx.rules);
  const now = ctx.clock();
  const rollback = Symbol('dry run');
  let outcome: (Resolution & { contact: ContactView }) | undefined;
  try {
    await ctx.driver.transaction(async (tx) => {
      await lockFor(ctx, tx, 'shared', handles.map((h) => `handle:${handleKey(h)}`));
      const resolution = await resolveIdentity(tx, { workspace: ctx.workspace, rules: ctx.rules, now, actor: ctx.actor }, { handles, skipped, name: options.name });
      outcome = { ...resolution, contact: await contactView(ctx, tx, resolution.contactId) };
      if (options.dryRun) throw rollback;
    });
  } catch (error) {
    if (error !== rollback) throw error;
  }
  return outcome!;
}

/** The person holding a handle (the one who used it last, if several do), or undefined. */
export async function findContact(ctx: FacadeContext, input: HandleInput): Promise<ContactView | undefined> {
  const { handles } = normalizeHandles([parseInput(HandleInputSchema, input, 'handle')], ctx.rules);
  if (!handles.length) return undefined;
  return ctx.driver.read(async (db) => {
    const rows = (await handleOwners(db, ctx.workspace, handles)).get(handleKey(handles[0])) ?? [];
    const newest = [...rows].sort((a, b) => b.last_seen_at - a.last_seen_at)[0];
    return newest ? contactView(ctx, db, newest.root_id) : undefined;
  });
}

/** A contact with every identity; asked for a merged contact, returns the survivor it belongs to. */
export async function getContact(ctx: FacadeContext, contactId: string): Promise<ContactView> {
  return ctx.driver.read(async (db) => contactView(ctx, db, await rootOf(ctx, db, contactId)));
}

/** Merges two contacts by hand (an agent or admin knows they are one person). The older one survives. */
export async function merge(ctx: FacadeContext, contactId: string, otherContactId: string, options: { actor?: string; reason?: string } = {}): Promise<MergeRecord> {
  const now = ctx.clock();
  return ctx.driver.transaction(async (tx) => {
    await lockFor(ctx, tx, 'exclusive');
    const [a, b] = [await rootOf(ctx, tx, contactId), await rootOf(ctx, tx, otherContactId)];
    if (a === b) throw new OmnithreadError('CONFLICT', `${contactId} and ${otherContactId} are already the same contact (${a})`);
    const [survivor, merged] = await survivorFirst(tx, ctx.workspace, a, b);
    return mergeRoots(tx, ctx.workspace, survivor, merged, { rule: 'manual', evidence: options.reason ? { reason: options.reason } : {}, actor: options.actor ?? ctx.actor }, now);
  });
}

/**
 * Undoes a merge exactly: the merged contact gets back its identities, conversations and events.
 * Give the merge id, or the id of the contact that was merged away.
 */
export async function unmerge(ctx: FacadeContext, ref: { mergeId: string } | { contactId: string }, options: { actor?: string } = {}): Promise<MergeRecord> {
  const now = ctx.clock();
  return ctx.driver.transaction(async (tx) => {
    await lockFor(ctx, tx, 'exclusive');
    const found = 'mergeId' in ref ? await getMerge(tx, ctx.workspace, ref.mergeId) : await activeMergeOf(tx, ctx.workspace, ref.contactId);
    if (!found) throw notFound('mergeId' in ref ? 'Merge' : 'Active merge of contact', 'mergeId' in ref ? ref.mergeId : ref.contactId);
    if (found.undoneAt) throw new OmnithreadError('CONFLICT', `Merge ${found.id} was already undone at ${found.undoneAt}`);
    await undoMerge(tx, ctx.workspace, found, options.actor ?? ctx.actor, now);
    return (await getMerge(tx, ctx.workspace, found.id))!;
  });
}

/** The merge log of a person: every merge and unmerge involving them or anyone merged into them. */
export async function mergeLog(ctx: FacadeContext, contactId: string): Promise<MergeRecord[]> {
  return ctx.driver.read(async (db) => {
    const rows = await familyRows(db, ctx.workspace, await rootOf(ctx, db, contactId));
    return mergesOfFamily(db, ctx.workspace, rows.map((r) => r.id));
  });
}

export async function suggestions(ctx: FacadeContext, filter: { status?: MergeSuggestion['status']; contactId?: string; limit?: number } = {}): Promise<MergeSuggestion[]> {
  return ctx.driver.read(async (db) => {
    const contactIds = filter.contactId ? (await familyRows(db, ctx.workspace, await rootOf(ctx, db, filter.contactId))).map((r) => r.id) : undefined;
    return listSuggestions(db, ctx.workspace, { status: filter.status ?? 'open', contactIds, limit: filter.limit ?? 100 });
  });
}

/** Accepts a merge suggestion: merges the two contacts, logged as the suggestion's rule. */
export async function acceptSuggestion(ctx: FacadeContext, suggestionId: string, options: { actor?: string } = {}): Promise<MergeRecord> {
  const now = ctx.clock();
  return ctx.driver.transaction(async (tx) => {
    await lockFor(ctx, tx, 'exclusive');
    const suggestion = await getSuggestion(tx, ctx.workspace, suggestionId);
    if (!suggestion) throw notFound('Merge suggestion', suggestionId);
    if (suggestion.status !== 'open') throw new OmnithreadError('CONFLICT', `Merge suggestion ${suggestionId} is already ${suggestion.status}`);
    const [a, b] = [await rootOf(ctx, tx, suggestion.contactIds[0]), await rootOf(ctx, tx, suggestion.contactIds[1])];
    if (a === b) throw new OmnithreadError('CONFLICT', `The contacts of suggestion ${suggestionId} are already one contact (${a})`);
    const [survivor, merged] = await survivorFirst(tx, ctx.workspace, a, b);
    await setSuggestionStatus(tx, ctx.workspace, suggestionId, 'accepted', now);
    return mergeRoots(
      tx,
      ctx.workspace,
      survivor,
      merged,
      { rule: 'suggestion', evidence: { suggestionId, reason: suggestion.reason, ...suggestion.evidence }, actor: options.actor ?? ctx.actor },
      now,
    );
  });
}

export async function dismissSuggestion(ctx: FacadeContext, suggestionId: string): Promise<MergeSuggestion> {
  const now = ctx.clock();
  return ctx.driver.transaction(async (tx) => {
    await lockFor(ctx, tx, 'shared');
    const suggestion = await getSuggestion(tx, ctx.workspace, suggestionId);
    if (!suggestion) throw notFound('Merge suggestion', suggestionId);
    await setSuggestionStatus(tx, ctx.workspace, suggestionId, 'dismissed', now);
    return (await getSuggestion(tx, ctx.workspace, suggestionId))!;
  });
}

/** Sets (merges in) attributes of a person (a VIP flag, a tier, a plan); null removes one. */
export async function setContactAttributes(ctx: FacadeContext, contactId: string, attributes: Record<string, unknown>): Promise<ContactView> {
  const patch = parseInput(z.record(z.string().min(1).max(128), z.unknown()), attributes, 'contact attributes');
  const now = ctx.clock();
  return ctx.driver.transaction(async (tx) => {
    await lockFor(ctx, tx, 'shared');
    const rootId = await lockRoot(tx, ctx.workspace, contactId);
    await mergeAttributes(tx, ctx.workspace, rootId, patch, now);
    return contactView(ctx, tx, rootId);
  });
}

/** One merge of this workspace by id (for checking who may undo it), or undefined. */
export async function findMerge(ctx: FacadeContext, mergeId: string): Promise<MergeRecord | undefined> {
  return ctx.driver.read((db) => getMerge(db, ctx.workspace, mergeId));
}

/** One merge suggestion of this workspace by id, or undefined. */
export async function findSuggestion(ctx: FacadeContext, suggestionId: string): Promise<MergeSuggestion | undefined> {
  return ctx.driver.read((db) => getSuggestion(db, ctx.workspace, suggestionId));
}
