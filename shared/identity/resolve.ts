/**
 * Identity resolution: which contact does a set of handles belong to? Runs inside the caller's write
 * transaction, after the caller has locked the handles' keys, so two deliveries of one new person can
 * never create two contacts.
 *
 * The algorithm, in the spirit of Segment Unify:
 * 1. Handles are taken strongest first (kind priority, then trust).
 * 2. A handle held by a contact is evidence at the lower of the two trusts (what the message claims and
 *    what we had). Evidence below the auto-merge threshold never links on its own: it yields a suggestion.
 * 3. The first strongly matched contact is the anchor, unless its identities contradict the message
 *    (a different value of a unique kind such as `account`, or a different verified email).
 * 4. Another contact strongly matched by the same message is the same person and is merged, unless the
 *    two contradict each other; then the pair becomes a merge suggestion.
 * 5. No anchor: a new contact. The message's handles are attached to the anchor within each kind's limit.
 * Shared values (a household landline, a role mailbox; see rules.sharedReason) take no part in 1-4: they
 * never link two contacts. A message that carries no personal identity at all belongs to its thread's
 * contact when the thread is known, else to the shared number's own contact (the household's), else to a
 * new contact; linking a shared number's contact to a person is a suggestion.
 * Every decision is a step in the explanation.
 */
import { HandleKind, Trust, handleKey, minTrust, trustRank } from '../model';
import { SqlTransaction } from '../store/driver';
import {
  Family,
  MergeRecord,
  OwnedHandleRow,
  createContact,
  familyHandles,
  familyWithHandles,
  getContactRow,
  handleOwners,
  lockRoot,
  lockRootWithFamily,
  mergeRoots,
  suggestMerge,
  survivorFirst,
  upsertHandles,
} from './contacts';
import { NormalizedHandle, SkippedHandle } from './normalize';
import { IdentityRules, sharedReason } from './rules';

export type ResolveAction =
  | 'matched'
  | 'created'
  | 'attached'
  | 'merged'
  | 'suggested'
  | 'conflict'
  | 'weak'
  | 'ambiguous'
  | 'limit'
  | 'skipped'
  | 'thread'
  | 'shared'
  | 'noted';

export interface ResolveStep {
  action: ResolveAction;
  /** The handle the step is about, e.g. "email:jane@example.com". */
  handle?: string;
  contactId?: string;
  /** The rule that decided, e.g. "email.priority", "account.limit", "autoMergeTrust". */
  rule: string;
  detail: string;
}

export interface Resolution {
  /** The contact (survivor) the handles belong to. */
  contactId: string;
  created: boolean;
  merges: MergeRecord[];
  suggestionIds: string[];
  steps: ResolveStep[];
  /** The steps as sentences a person can read. */
  explanation: string;
}

export interface ResolveContext {
  workspace: string;
  rules: IdentityRules;
  now: number;
  actor: string;
}

export interface ResolveRequest {
  handles: readonly NormalizedHandle[];
  skipped: readonly SkippedHandle[];
  name?: string;
  /**
   * Asked only when the message carries no personal identity: the contact of an earlier message in the
   * same thread (a function, so that the lookup costs nothing on the usual path).
   */
  threadContact?: () => Promise<string | undefined>;
}

/** kind + scope -> value -> best trust. */
type Profile = Map<string, Map<string, Trust>>;

const slot = (h: { kind: HandleKind; scope: string }) => `${h.kind}\u0000${h.scope}`;

function addToProfile(profile: Profile, h: { kind: HandleKind; scope: string; value: string; trust: Trust }): void {
  const values = profile.get(slot(h)) ?? new Map<string, Trust>();
  const had = values.get(h.value);
  values.set(h.value, had && trustRank(had) > trustRank(h.trust) ? had : h.trust);
  profile.set(slot(h), values);
}

function profileOf(handles: Iterable<{ kind: HandleKind; scope: string; value: string; trust: Trust }>): Profile {
  const profile: Profile = new Map();
  for (const h of handles) addToProfile(profile, h);
  return profile;
}

function unionProfiles(a: Profile, b: Profile): Profile {
  const profile: Profile = new Map();
  for (const p of [a, b]) {
    for (const [key, values] of p) {
      const [kind, scope] = key.split('\u0000') as [HandleKind, string];
      for (const [value, trust] of values) addToProfile(profile, { kind, scope, value, trust });
    }
  }
  return profile;
}

export const describeHandle = (h: { kind: string; scope?: string | null; value: string }): string =>
  h.scope ? `${h.kind} ${h.value} (in ${h.scope})` : `${h.kind} ${h.value}`;

/** Why two sets of identities can not be one person, or undefined when they can. */
function contradiction(a: Profile, b: Profile, rules: IdentityRules): { rule: string; reason: string } | undefined {
  for (const [key, aValues] of a) {
    const bValues = b.get(key);
    if (!bValues) continue;
    const kind = key.split('\u0000')[0] as HandleKind;
    const rule = rules.kinds[kind];
    const shared = [...aValues.keys()].some((v) => bValues.has(v));
    if (rule.limit === 1 && !shared) {
      return { rule: `${kind}.limit`, reason: `a contact holds one ${kind} and these are different (${[...aValues.keys()][0]} / ${[...bValues.keys()][0]})` };
    }
    if (rule.verifiedConflict) {
      const verifiedA = [...aValues].filter(([, t]) => t === 'verified').map(([v]) => v);
      const verifiedB = [...bValues].filter(([, t]) => t === 'verified').map(([v]) => v);
      if (verifiedA.length && verifiedB.length && !verifiedA.some((v) => verifiedB.includes(v))) {
        return { rule: `${kind}.verifiedConflict`, reason: `each holds a different verified ${kind} (${verifiedA[0]} / ${verifiedB[0]})` };
      }
    }
  }
  return undefined;
}

/**
 * The anchor's identities plus the message's claims the anchor can take: a claim that contradicts the
 * anchor (a second account id) will not be attached, so it must not count when checking a merge either.
 */
function acceptedBy(anchor: Profile, message: Profile, rules: IdentityRules): Profile {
  const accepted: Profile = unionProfiles(anchor, new Map());
  for (const [key, values] of message) {
    const [kind, scope] = key.split('\u0000') as [HandleKind, string];
    for (const [value, trust] of values) {
      const claim = profileOf([{ kind, scope, value, trust }]);
      if (!contradiction(anchor, claim, rules)) addToProfile(accepted, { kind, scope, value, trust });
    }
  }
  return accepted;
}

export async function resolveIdentity(tx: SqlTransaction, ctx: ResolveContext, request: ResolveRequest): Promise<Resolution> {
  return (await resolveInFamily(tx, ctx, request)).resolution;
}

/**
 * resolveIdentity, with the ids of every contact of the resolved person as this transaction left them
 * (read under the survivor's lock): what a person-scoped query that follows can name outright instead of
 * joining, which a planner without statistics gets wrong (see openConversation).
 */
export async function resolveInFamily(
  tx: SqlTransaction,
  ctx: ResolveContext,
  request: ResolveRequest,
): Promise<{ resolution: Resolution; familyContactIds: readonly string[] }> {
  const { workspace, rules, now } = ctx;
  const threshold = rules.autoMergeTrust;
  const strong = (trust: Trust) => trustRank(trust) >= trustRank(threshold);
  const steps: ResolveStep[] = request.skipped.map((s) => ({
    action: 'skipped',
    handle: `${s.kind}:${s.value}`,
    rule: `${s.kind}.blocked`,
    detail: `${describeHandle(s)} was not used: it ${s.reason}`,
  }));
  for (const h of request.handles) {
    for (const note of h.notes ?? []) steps.push({ action: 'noted', handle: handleKey(h), rule: `${h.kind}.normalize`, detail: note });
    if (h.shared) {
      steps.push({ action: 'shared', handle: handleKey(h), rule: `${h.kind}.shared`, detail: `${describeHandle(h)} is ${h.shared}: kept, but it links nobody` });
    }
  }

  const byStrength = (a: NormalizedHandle, b: NormalizedHandle) =>
    rules.kinds[a.kind].priority - rules.kinds[b.kind].priority || trustRank(b.trust) - trustRank(a.trust);
  // Only a person's own values take part in matching and merging; shared ones are attached afterwards.
  const ordered = request.handles.filter((h) => !h.shared).sort(byStrength);
  const sharedHandles = request.handles.filter((h) => h.shared).sort(byStrength);
  const messageProfile = profileOf(ordered.filter((h) => strong(h.trust)));
  const owners = await handleOwners(tx, workspace, request.handles);

  // Each survivor's family is read once per resolution (a merge makes the two families one: read again).
  const families = new Map<string, Family>();
  const familyOf = async (root: string): Promise<Family> => {
    let family = families.get(root);
    if (!family) {
      family = await familyWithHandles(tx, workspace, root);
      families.set(root, family);
    }
    return family;
  };
  const profiles = new Map<string, Profile>();
  const profileOfContact = async (root: string): Promise<Profile> => {
    let profile = profiles.get(root);
    if (!profile) {
      profile = profileOf((await familyOf(root)).handles);
      profiles.set(root, profile);
    }
    return profile;
  };

  let anchor: string | undefined;
  const merges: MergeRecord[] = [];
  const pendingSuggestions: { root: string; reason: string; evidence: Record<string, unknown> }[] = [];

  for (const handle of ordered) {
    const key = handleKey(handle);
    const rows = owners.get(key) ?? [];
    if (!rows.length) continue;
    // One candidate per survivor: the best trust it holds this value with, and when it last used it.
    const candidates = new Map<string, { trust: Trust; lastSeen: number }>();
    for (const row of rows) {
      const had = candidates.get(row.root_id);
      candidates.set(row.root_id, {
        trust: had && trustRank(had.trust) > trustRank(row.trust) ? had.trust : row.trust,
        lastSeen: Math.max(had?.lastSeen ?? 0, row.last_seen_at),
      });
    }
    if (anchor && candidates.has(anchor)) {
      // The person already holds this value. Someone else holding it strongly too is linked by this same
      // message: they are considered below like any other match (and merged, or suggested on a conflict).
      candidates.delete(anchor);
      if (![...candidates.values()].some((c) => strong(minTrust(handle.trust, c.trust)))) continue;
    }
    // Several contacts may hold one value (kept apart on purpose, or one only claimed it). Strong evidence
    // beats weak, then the contact that used the value last.
    const ranked = [...candidates]
      .map(([id, held]) => ({ id, held, evidence: minTrust(handle.trust, held.trust) }))
      .sort((a, b) => Number(strong(b.evidence)) - Number(strong(a.evidence)) || b.held.lastSeen - a.held.lastSeen);
    const { held, evidence } = ranked[0];
    // The survivor and its handles, read under its lock (the handles are what the checks below compare).
    const { root, family: rootFamily } = await lockRootWithFamily(tx, workspace, ranked[0].id);
    if (!families.has(root)) families.set(root, rootFamily);
    if (root === anchor) continue;
    const strongCandidates = ranked.filter((c) => strong(c.evidence)).length;
    if (strongCandidates > 1) {
      steps.push({
        action: 'ambiguous',
        handle: key,
        contactId: root,
        rule: `${handle.kind}.shared`,
        detail: `${describeHandle(handle)} is held by ${strongCandidates} separate contacts; the one that used it last (${root}) is the candidate`,
      });
    }
    if (!strong(evidence)) {
      const reason = `${describeHandle(handle)} matches ${root} only with ${evidence} trust; automatic merges need ${threshold}`;
      steps.push({ action: 'weak', handle: key, contactId: root, rule: 'autoMergeTrust', detail: reason });
      pendingSuggestions.push({ root, reason, evidence: { handle: key, messageTrust: handle.trust, storedTrust: held.trust } });
      continue;
    }
    const theirs = await profileOfContact(root);
    const ours = anchor ? acceptedBy(await profileOfContact(anchor), messageProfile, rules) : messageProfile;
    const clash = contradiction(ours, theirs, rules);
    if (clash) {
      const reason = `${describeHandle(handle)} matches ${root}, but ${clash.reason}`;
      steps.push({ action: 'conflict', handle: key, contactId: root, rule: clash.rule, detail: reason });
      pendingSuggestions.push({ root, reason, evidence: { handle: key, trust: evidence, rule: clash.rule } });
      continue;
    }
    if (!anchor) {
      anchor = root;
      steps.push({
        action: 'matched',
        handle: key,
        contactId: root,
        rule: `${handle.kind}.priority`,
        detail: `matched ${root} by ${describeHandle(handle)} (${evidence} trust)`,
      });
      continue;
    }
    // The same message strongly matches two contacts: they are one person. The older contact survives.
    const [survivor, merged] = await survivorFirst(tx, workspace, anchor, root);
    const record = await mergeRoots(
      tx,
      workspace,
      survivor,
      merged,
      { rule: `auto:${handle.kind}`, evidence: { handle: key, trust: evidence }, actor: ctx.actor },
      now,
    );
    merges.push(record);
    const combined = unionProfiles(await profileOfContact(anchor), theirs);
    profiles.delete(merged);
    profiles.set(survivor, combined);
    families.delete(merged);
    families.delete(survivor);
    anchor = survivor;
    steps.push({
      action: 'merged',
      handle: key,
      contactId: merged,
      rule: `${handle.kind}.priority`,
      detail: `merged ${merged} into ${survivor}: the message links both through ${describeHandle(handle)} (${evidence} trust)`,
    });
  }

  let created = false;
  const threadContactId = !anchor && !ordered.length ? await request.threadContact?.() : undefined;
  if (threadContactId) {
    const row = await getContactRow(tx, workspace, threadContactId);
    if (row) {
      anchor = await lockRoot(tx, workspace, row.id);
      steps.push({ action: 'thread', contactId: anchor, rule: 'thread', detail: `no personal identity named the sender; the message continues a thread of ${anchor}` });
    }
  }
  if (!anchor && !ordered.length) {
    const line = await sharedNumberContact(tx, ctx, sharedHandles, owners);
    if (line) {
      anchor = line.contactId;
      steps.push({
        action: 'matched',
        handle: line.key,
        contactId: anchor,
        rule: 'phone.shared',
        detail: `the message carries only the shared number ${line.value}: it goes to that number's own contact ${anchor}`,
      });
    }
  }
  if (!anchor) {
    anchor = await createContact(tx, workspace, request.name, now);
    created = true;
    steps.push({ action: 'created', contactId: anchor, rule: 'new', detail: `created ${anchor}: no existing contact could be linked` });
  }

  // Attach the message's handles to the anchor, within each kind's limit (in one statement).
  const family = created ? { contacts: [], handles: [] } : await familyOf(anchor);
  const holders = new Map<string, string[]>();
  const valueCounts = new Map<string, Set<string>>();
  for (const row of family.handles) {
    holders.set(handleKey(row), [...(holders.get(handleKey(row)) ?? []), row.contact_id]);
    valueCounts.set(slot(row), (valueCounts.get(slot(row)) ?? new Set()).add(row.value));
  }
  const upserts: { contactId: string; handle: NormalizedHandle }[] = [];
  for (const handle of [...ordered, ...sharedHandles]) {
    const key = handleKey(handle);
    const holding = holders.get(key);
    if (holding) {
      for (const contactId of holding) upserts.push({ contactId, handle });
      continue;
    }
    const values = valueCounts.get(slot(handle)) ?? new Set<string>();
    const limit = rules.kinds[handle.kind].limit;
    if (values.size >= limit) {
      steps.push({
        action: 'limit',
        handle: key,
        contactId: anchor,
        rule: `${handle.kind}.limit`,
        detail: `${describeHandle(handle)} was not attached: ${anchor} already holds ${values.size} ${handle.kind} value(s), the limit is ${limit}`,
      });
      continue;
    }
    upserts.push({ contactId: anchor, handle });
    valueCounts.set(slot(handle), values.add(handle.value));
    steps.push({ action: 'attached', handle: key, contactId: anchor, rule: `${handle.kind}.limit`, detail: `attached ${describeHandle(handle)} (${handle.trust}) to ${anchor}` });
  }

  await upsertHandles(tx, workspace, upserts, now);

  pendingSuggestions.push(...(await sharedNumberLinks(tx, ctx, anchor, sharedHandles, owners)));
  const suggestionIds: string[] = [];
  for (const pending of pendingSuggestions) {
    const row = await getContactRow(tx, workspace, pending.root);
    const other = row?.root_id ?? pending.root;
    if (other === anchor) continue;
    const suggestion = await suggestMerge(tx, workspace, anchor, other, pending.reason, pending.evidence, now);
    if (suggestion.status === 'dismissed') {
      steps.push({ action: 'suggested', contactId: other, rule: 'suggestion', detail: `did not suggest merging ${other} with ${anchor} again: a person dismissed that (${suggestion.id})` });
      continue;
    }
    if (!suggestionIds.includes(suggestion.id)) suggestionIds.push(suggestion.id);
    steps.push({ action: 'suggested', contactId: other, rule: 'suggestion', detail: `suggested merging ${other} with ${anchor} (${suggestion.id}) for review` });
  }

  if (request.name) {
    // Deferred: nobody reads its outcome (a contact with a name keeps it), so it costs no round trip.
    await tx.defer('UPDATE contacts SET name = ?, updated_at = ? WHERE workspace = ? AND id = ? AND name IS NULL', [request.name, now, workspace, anchor]);
  }

  return {
    resolution: { contactId: anchor, created, merges, suggestionIds, steps, explanation: explain(steps) },
    familyContactIds: created ? [anchor] : family.contacts.map((c) => c.id),
  };
}

/** True when every identity of the person is shared (a household line's or a mailbox's own contact). */
async function sharedOnly(tx: SqlTransaction, ctx: ResolveContext, root: string): Promise<boolean> {
  const handles = await familyHandles(tx, ctx.workspace, root);
  return handles.length > 0 && handles.every((h) => sharedReason(ctx.rules, h.kind, h.value) !== undefined);
}

/**
 * The own contact of a shared phone number (a household's or an office's line): the contact that holds it
 * and nothing personal, the one that used it last. Shared mailboxes have none: each of their threads is
 * its own matter (a front desk writes for many guests), so the thread decides.
 */
async function sharedNumberContact(
  tx: SqlTransaction,
  ctx: ResolveContext,
  shared: readonly NormalizedHandle[],
  owners: Map<string, OwnedHandleRow[]>,
): Promise<{ contactId: string; key: string; value: string } | undefined> {
  for (const handle of shared) {
    if (handle.kind !== 'phone') continue;
    const rows = [...(owners.get(handleKey(handle)) ?? [])].sort((a, b) => b.last_seen_at - a.last_seen_at);
    for (const row of rows) {
      if (await sharedOnly(tx, ctx, row.root_id)) return { contactId: await lockRoot(tx, ctx.workspace, row.root_id), key: handleKey(handle), value: handle.value };
    }
  }
  return undefined;
}

/**
 * Suggestions that a shared number's own contact and a person who holds the number are one (it may be
 * that person's own line): made both ways, never a merge. At most three people per number.
 */
async function sharedNumberLinks(
  tx: SqlTransaction,
  ctx: ResolveContext,
  anchor: string,
  shared: readonly NormalizedHandle[],
  owners: Map<string, OwnedHandleRow[]>,
): Promise<{ root: string; reason: string; evidence: Record<string, unknown> }[]> {
  const out: { root: string; reason: string; evidence: Record<string, unknown> }[] = [];
  const phones = shared.filter((h) => h.kind === 'phone');
  if (!phones.length) return out;
  const anchorShared = await sharedOnly(tx, ctx, anchor);
  for (const handle of phones) {
    const roots = [...new Set((owners.get(handleKey(handle)) ?? []).sort((a, b) => b.last_seen_at - a.last_seen_at).map((r) => r.root_id))];
    let people = 0;
    for (const root of roots) {
      if (root === anchor || people >= 3) continue;
      // Only pairs of one number contact and one person: two people sharing a line are two people.
      if ((await sharedOnly(tx, ctx, root)) === anchorShared) continue;
      people++;
      out.push({
        root,
        reason: `both use ${handle.value}, ${handle.shared}: link them if it is this person's own line`,
        evidence: { handle: handleKey(handle), shared: handle.shared },
      });
    }
  }
  return out;
}

const SENTENCE_ORDER: ResolveAction[] = ['matched', 'thread', 'created', 'merged', 'attached', 'ambiguous', 'weak', 'conflict', 'limit', 'shared', 'noted', 'skipped', 'suggested'];

export function explain(steps: readonly ResolveStep[]): string {
  const sorted = [...steps].sort((a, b) => SENTENCE_ORDER.indexOf(a.action) - SENTENCE_ORDER.indexOf(b.action));
  return sorted.map((s) => s.detail.charAt(0).toUpperCase() + s.detail.slice(1) + '.').join(' ');
}
