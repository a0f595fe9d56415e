/**
 * Identity rules: how handles are normalised, which values are ignored, and when two contacts may be
 * linked automatically. Modelled on Segment Unify's identity settings: a priority and a limit per kind,
 * a blocklist, and (ours) a trust threshold for automatic merges.
 */
import { z } from 'zod';
import type { CountryCode } from 'libphonenumber-js';
import { isSupportedCountry } from 'libphonenumber-js';
import { HANDLE_KINDS, HandleKind, TrustSchema, parseInput } from '../model';
import { BUILT_IN_RULE_IDS, BuiltInRule, builtInPlaceholder, builtInShared } from './built-in';

export const KindRuleSchema = z
  .object({
    /** Lower is stronger. When handles of one message point at different contacts, the strongest decides. */
    priority: z.number().int().min(0).max(1000),
    /**
     * How many values of this kind one contact may hold (per scope for scoped kinds). A limit of 1 makes
     * the kind unique: two contacts holding different values are never merged. Above 1, extra values are
     * simply not attached.
     */
    limit: z.number().int().min(1).max(1000),
    /**
     * When a message carries a verified value of this kind and the matched contact already holds a
     * different verified value of it, the match is refused (e.g. two people sharing a family phone, each
     * signed in with their own email).
     */
    verifiedConflict: z.boolean(),
  })
  .strict();
export type KindRule = z.infer<typeof KindRuleSchema>;

export const DEFAULT_KIND_RULES: Record<HandleKind, KindRule> = {
  account: { priority: 10, limit: 1, verifiedConflict: true },
  external_id: { priority: 15, limit: 1, verifiedConflict: true },
  email: { priority: 20, limit: 5, verifiedConflict: true },
  phone: { priority: 30, limit: 5, verifiedConflict: false },
  whatsapp_bsuid: { priority: 40, limit: 3, verifiedConflict: false },
  whatsapp_id: { priority: 40, limit: 3, verifiedConflict: false },
  telegram_user: { priority: 40, limit: 3, verifiedConflict: false },
  messenger_psid: { priority: 40, limit: 3, verifiedConflict: false },
  instagram_igsid: { priority: 40, limit: 3, verifiedConflict: false },
  x_user: { priority: 40, limit: 3, verifiedConflict: false },
  username: { priority: 45, limit: 5, verifiedConflict: false },
  webchat_visitor: { priority: 50, limit: 50, verifiedConflict: false },
};

function isValidPattern(pattern: string): boolean {
  try {
    new RegExp(pattern, 'i');
    return true;
  } catch {
    return false;
  }
}

const BlockListSchema = z
  .object({
    /** Exact values (compared after normalisation, case-insensitively). */
    values: z.array(z.string().min(1)).default([]),
    /** Regular expressions (JavaScript syntax, matched case-insensitively against the normalised value). */
    patterns: z.array(z.string().min(1).refine(isValidPattern, 'is not a valid regular expression')).default([]),
  })
  .strict();

const kindRecord = <T extends z.ZodTypeAny>(schema: T) =>
  z.object(Object.fromEntries(HANDLE_KINDS.map((k) => [k, schema.optional()])) as Record<HandleKind, z.ZodOptional<T>>).strict();

/** "support@acme.io" (one address), or "acme.io" / "@acme.io" (every address of the domain and its subdomains). */
const OwnAddressSchema = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^(?:[^\s@]+@)?@?[a-z0-9-]+(?:\.[a-z0-9-]+)+$/, 'must be an email address (support@acme.io) or a domain (acme.io)');

export const IdentityRulesSchema = z
  .object({
    /** ISO 3166 country used for phone numbers written without a country code, e.g. "GB". */
    defaultCountry: z
      .string()
      .transform((c) => c.toUpperCase())
      .refine((c) => isSupportedCountry(c), { message: 'must be an ISO 3166-1 alpha-2 country code such as "US" or "GB"' })
      .optional(),
    email: z
      .object({
        /** Treat jane+news@x.com as jane@x.com. Off by default: some providers give plus-tags meaning. */
        stripPlusTags: z.boolean().default(false),
        /** Treat j.a.n.e@gmail.com as jane@gmail.com (Gmail ignores dots). Off by default. */
        gmailDots: z.boolean().default(false),
      })
      .strict()
      .default({}),
    /** Evidence below this trust never merges contacts on its own; it yields a merge suggestion instead. */
    autoMergeTrust: TrustSchema.default('channel'),
    /** Per-kind overrides of priority, limit and verifiedConflict. */
    kinds: kindRecord(KindRuleSchema.partial()).default({}),
    /** Values that never identify anybody, per kind, on top of the built-in rules. */
    blocked: kindRecord(BlockListSchema).default({}),
    /** Team or shared mailboxes of your customers (frontdesk@hotel.io ...): recorded, marked shared, and they never link two people. */
    sharedMailboxes: z.array(z.string().min(3)).default([]),
    /**
     * Our own addresses and domains (support@acme.io, acme.io): mail from them is ours (an agent's answer,
     * recorded as outbound on the customer's timeline), never a customer; they are never anybody's identity.
     */
    ownAddresses: z.array(OwnAddressSchema).default([]),
    /** Built-in rules to switch off, by id (see BUILT_IN_RULES): e.g. a team testing with example.com addresses. */
    builtInRulesOff: z.array(z.enum(BUILT_IN_RULE_IDS)).default([]),
    /** false switches off the three placeholder rules at once (placeholder-values, -emails, -phones). */
    builtInBlocklist: z.boolean().default(true),
  })
  .strict();
export type IdentityRulesInput = z.input<typeof IdentityRulesSchema>;

/** Rules after validation, with every kind's rule filled in and patterns compiled. */
export interface IdentityRules {
  defaultCountry?: CountryCode;
  email: { stripPlusTags: boolean; gmailDots: boolean };
  autoMergeTrust: z.infer<typeof TrustSchema>;
  kinds: Record<HandleKind, KindRule>;
  blockedValues: Record<HandleKind, Set<string>>;
  blockedPatterns: Record<HandleKind, RegExp[]>;
  sharedMailboxes: Set<string>;
  /** Our own addresses (exact) and domains. */
  own: { addresses: Set<string>; domains: string[] };
  /** Which built-in rules are on. */
  builtIn: Record<BuiltInRule, boolean>;
}

export function compileRules(input: IdentityRulesInput | IdentityRules | undefined): IdentityRules {
  if (input && 'blockedValues' in input) return input;
  const parsed = parseInput(IdentityRulesSchema, input ?? {}, 'identity rules');
  const kinds = {} as Record<HandleKind, KindRule>;
  const blockedValues = {} as Record<HandleKind, Set<string>>;
  const blockedPatterns = {} as Record<HandleKind, RegExp[]>;
  for (const kind of HANDLE_KINDS) {
    kinds[kind] = { ...DEFAULT_KIND_RULES[kind], ...(parsed.kinds[kind] ?? {}) };
    const list = parsed.blocked[kind];
    blockedValues[kind] = new Set((list?.values ?? []).map((v) => v.trim().toLowerCase()));
    blockedPatterns[kind] = (list?.patterns ?? []).map((p) => new RegExp(p, 'i'));
  }
  const off = new Set<BuiltInRule>(parsed.builtInRulesOff);
  if (!parsed.builtInBlocklist) for (const id of ['placeholder-values', 'placeholder-emails', 'placeholder-phones'] as const) off.add(id);
  const own = { addresses: new Set<string>(), domains: [] as string[] };
  for (const entry of parsed.ownAddresses) {
    if (entry.includes('@') && !entry.startsWith('@')) own.addresses.add(entry);
    else own.domains.push(entry.replace(/^@/, ''));
  }
  return {
    defaultCountry: parsed.defaultCountry as CountryCode | undefined,
    email: parsed.email,
    autoMergeTrust: parsed.autoMergeTrust,
    kinds,
    blockedValues,
    blockedPatterns,
    sharedMailboxes: new Set(parsed.sharedMailboxes.map((m) => m.trim().toLowerCase())),
    own,
    builtIn: Object.fromEntries(BUILT_IN_RULE_IDS.map((id) => [id, !off.has(id)])) as Record<BuiltInRule, boolean>,
  };
}

/** Why a value can not identify anybody (a placeholder, a blocked value), or undefined when it may. */
export function blockedReason(rules: IdentityRules, kind: HandleKind, value: string): string | undefined {
  if (rules.blockedValues[kind].has(value.toLowerCase())) return 'listed as a blocked value';
  const pattern = rules.blockedPatterns[kind].find((p) => p.test(value));
  if (pattern) return `matches the blocked pattern ${pattern}`;
  return builtInPlaceholder(rules.builtIn, kind, value);
}

/**
 * Why a value is shared by several people (a household landline, a role mailbox, a mailbox you listed),
 * or undefined when it is one person's. A shared value is kept on the contacts that use it, marked
 * shared, and never links two contacts (see resolve.ts).
 */
export function sharedReason(rules: IdentityRules, kind: HandleKind, value: string): string | undefined {
  if (kind === 'email' && rules.sharedMailboxes.has(value.toLowerCase())) return 'a shared mailbox (listed in the store settings)';
  return builtInShared(rules.builtIn, kind, value);
}

/** True for our own addresses (ownAddresses: an address, or any address of a domain or its subdomains). */
export function isOwnAddress(rules: IdentityRules, email: string): boolean {
  const value = email.trim().toLowerCase();
  if (rules.own.addresses.has(value)) return true;
  const domain = value.slice(value.lastIndexOf('@') + 1);
  return rules.own.domains.some((d) => domain === d || domain.endsWith(`.${d}`));
}
