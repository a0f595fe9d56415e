/**
 * Identity rules: how handles are normalised, which values are ignored, and when two contacts may be
 * linked automatically. Modelled on Segment Unify's identity settings: a priority and a limit per kind,
 * a blocklist, and (ours) a trust threshold for automatic merges.
 */
import { z } from 'zod';
import type { CountryCode } from 'libphonenumber-js';
import { isSupportedCountry } from 'libphonenumber-js';
import { HANDLE_KINDS, HandleKind, TrustSchema, parseInput } from '../model';

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
    /** Values that never identify anybody, per kind, on top of the built-in list. */
    blocked: kindRecord(BlockListSchema).default({}),
    /** Team or shared mailboxes (support@, info@ ...) that never link people. */
    sharedMailboxes: z.array(z.string().min(3)).default([]),
    /** Set to false to drop the built-in blocklist of placeholders (null, anonymous, test@example.com, 0000...). */
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
  builtInBlocklist: boolean;
}

/** Placeholders that show up in every CRM export and web form. Matched against normalised values. */
const BUILT_IN_ANY_KIND = /^(?:|[0\-\s.+_*x#]*|null|nil|none|undefined|anonymous|anon|unknown|n\/?a|test|guest|user|visitor|-)$/i;
const BUILT_IN_EMAIL = [
  // role and robot local parts
  /^(?:no-?reply|do-?not-?reply|mailer-daemon|postmaster|bounces?|null|none|nobody|anonymous|unknown|test|example)@/i,
  // reserved and placeholder domains (RFC 2606 / RFC 6761)
  /@(?:[a-z0-9-]+\.)*(?:example\.(?:com|org|net)|example|test|invalid|localhost)$/i,
  /^(?:test@test\.com|email@email\.com|a@a\.com|user@domain\.com|name@domain\.com|your@email\.com|me@me\.com)$/i,
];
/** Phone numbers whose digits are all the same or a plain run like 1234567890. */
const BUILT_IN_PHONE = [/^\+?\d?(\d)\1{5,}$/, /^\+?\d{0,3}(?:0123456789|1234567890|123456789|987654321)$/];

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
  for (const mailbox of parsed.sharedMailboxes) blockedValues.email.add(mailbox.trim().toLowerCase());
  return {
    defaultCountry: parsed.defaultCountry as CountryCode | undefined,
    email: parsed.email,
    autoMergeTrust: parsed.autoMergeTrust,
    kinds,
    blockedValues,
    blockedPatterns,
    builtInBlocklist: parsed.builtInBlocklist,
  };
}

/** Why a value is blocked, or undefined when it may identify somebody. */
export function blockedReason(rules: IdentityRules, kind: HandleKind, value: string): string | undefined {
  const lower = value.toLowerCase();
  if (rules.blockedValues[kind].has(lower)) {
    return kind === 'email' ? 'listed as a shared mailbox or blocked value' : 'listed as a blocked value';
  }
  const pattern = rules.blockedPatterns[kind].find((p) => p.test(value));
  if (pattern) return `matches the blocked pattern ${pattern}`;
  if (!rules.builtInBlocklist) return undefined;
  if (BUILT_IN_ANY_KIND.test(value)) return 'is a placeholder value (built-in blocklist)';
  if (kind === 'email' && BUILT_IN_EMAIL.some((p) => p.test(value))) return 'is a placeholder or robot address (built-in blocklist)';
  if (kind === 'phone' && BUILT_IN_PHONE.some((p) => p.test(value))) return 'is a placeholder number (built-in blocklist)';
  return undefined;
}
