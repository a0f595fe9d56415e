/**
 * Normalisation turns what a channel hands us into one canonical value per handle, so that
 * "Jane@Example.COM " and "jane@example.com", or "020 7946 0958" and "+442079460958", are one handle.
 * What it could not use, and why, goes into every explanation; so does what it did to a value (a number
 * outside the ranges libphonenumber knows, a Brazilian number given its ninth digit).
 */
import { parsePhoneNumberFromString, parsePhoneNumberWithError, validatePhoneNumberLength } from 'libphonenumber-js/max';
import type { CountryCode, PhoneNumber } from 'libphonenumber-js/max';
import type { BuiltInRule } from './built-in';
import { Handle, HandleInput, HandleInputSchema, handleKey, maxTrust, parseInput } from '../model';
import { IdentityRules, blockedReason, sharedReason } from './rules';

/** A handle we could not use, and why: part of every explanation. */
export interface SkippedHandle {
  kind: string;
  value: string;
  scope?: string;
  reason: string;
}

/** A usable handle, with what normalisation noticed about it (shared, lower confidence, rewritten). */
export interface NormalizedHandle extends Handle {
  /** Why the value is shared by several people (see rules.sharedReason); it never links two contacts. */
  shared?: string;
  /** Sentences for the explanation: what was done to the value, or why it is less certain. */
  notes?: string[];
}

export interface NormalizedHandles {
  handles: NormalizedHandle[];
  skipped: SkippedHandle[];
}

const EMAIL = /^[^\s@"<>(),;:]+@[^\s@"<>(),;:]+\.[^\s@"<>(),;:]{2,}$/;

export function normalizeEmail(raw: string, options: IdentityRules['email']): string | undefined {
  let value = raw.trim().replace(/^mailto:/i, '').toLowerCase();
  if (!EMAIL.test(value)) return undefined;
  let [local, domain] = value.split('@') as [string, string];
  if (options.stripPlusTags) local = local.split('+')[0] || local;
  if (options.gmailDots && (domain === 'gmail.com' || domain === 'googlemail.com')) {
    local = local.replace(/\./g, '');
    domain = 'gmail.com';
  }
  value = `${local}@${domain}`;
  return value;
}

export type PhoneResult = { value: string; valid: boolean; notes: string[] } | { reason: string };

/** What phone parsing reads of the rules: the default country, and which built-in rules are on (all, when not given). */
export interface PhoneRules {
  defaultCountry?: CountryCode;
  builtIn?: Partial<Record<BuiltInRule, boolean>>;
}

const PHONE_ERRORS: Record<string, string> = {
  NOT_A_NUMBER: 'is not a phone number',
  INVALID_COUNTRY: 'has an unknown country calling code',
  TOO_SHORT: 'is too short to be a phone number',
  TOO_LONG: 'is too long to be a phone number',
  INVALID_LENGTH: 'has a length no number of its country has',
};

/**
 * One line, one spelling. WhatsApp still sends older Brazilian mobiles without the ninth digit
 * (55 DD 8xxx-xxxx) while SMS and calls give the same lines as +55 DD 9 8xxx-xxxx: rewritten to the
 * current form (a mobile's subscriber number in Brazil starts with 6-9; landlines, 2-5, are left alone).
 * Mexico's old mobile "1" (52 1 ...) is handled before parsing (see parsePhone).
 */
function canonicalLine(number: PhoneNumber, rules: PhoneRules): { number: PhoneNumber; note?: string } {
  const national = number.nationalNumber as string;
  if (rules.builtIn?.['brazil-ninth-digit'] !== false && number.countryCallingCode === '55' && /^[1-9]{2}[6-9]\d{7}$/.test(national)) {
    const fixed = parsePhoneNumberFromString(`+55${national.slice(0, 2)}9${national.slice(2)}`);
    if (fixed?.isValid()) return { number: fixed, note: `Brazilian mobile ${number.number} is written without its ninth digit: recorded as ${fixed.number}, the same line (built-in rule brazil-ninth-digit)` };
  }
  return { number };
}

/**
 * A phone number in E.164 (+14155550123), or why not. A number libphonenumber's metadata calls valid is
 * taken as is. A number that is only *possible* (the right length for its country, in a range the metadata
 * does not list: a new allocation, a reserved or test range) is kept too, because the provider gives it as
 * the sender (or the person typed it): validity only lowers confidence, and the notes say so.
 */
export function parsePhone(raw: string, rules: PhoneRules): PhoneResult {
  const cleaned = raw.trim().replace(/^(?:tel|sms|whatsapp):/i, '').replace(/^00(?=[1-9])/, '+');
  // WhatsApp wa_ids, Telegram contacts and some providers give international numbers without the leading "+".
  // Bare digits are read in the default country first; with none set they can only be international
  // (parsing them without a country would throw on every WhatsApp message: a stack trace each time).
  const candidates = cleaned.startsWith('+') ? [cleaned] : /^\d{8,15}$/.test(cleaned) ? (rules.defaultCountry ? [cleaned, `+${cleaned}`] : [`+${cleaned}`]) : [cleaned];
  // Mexico's old mobile "1" makes the number too long to parse at all: rewritten before parsing.
  const digits = cleaned.replace(/[^\d+]/g, '');
  const mexican = /^\+?521\d{10}$/.test(digits) && rules.builtIn?.['mexico-mobile-prefix'] !== false;
  if (mexican) candidates.unshift(`+52${digits.slice(digits.startsWith('+') ? 4 : 3)}`);
  const parsed: PhoneNumber[] = [];
  let error: string | undefined;
  for (const candidate of candidates) {
    try {
      parsed.push(parsePhoneNumberWithError(candidate, rules.defaultCountry));
    } catch (e) {
      error ??= (e as Error).message;
    }
  }
  const canonical = parsed.map((p) => canonicalLine(p, rules));
  const valid = canonical.find((c) => c.number.isValid());
  if (valid && mexican && valid.number.countryCallingCode === '52') {
    return { value: valid.number.number, valid: true, notes: [`Mexican mobile ${raw.trim()} carries the old "1" prefix: recorded as ${valid.number.number}, the same line (built-in rule mexico-mobile-prefix)`] };
  }
  if (valid) return { value: valid.number.number, valid: true, notes: valid.note ? [valid.note] : [] };
  // Only possible: kept all the same (a provider's sender, or what a person typed, at its trust). A number
  // typed without +country is read in the default country: set it, or such numbers may be misread.
  const possible = canonical.find((c) => c.number.isPossible());
  if (possible) {
    const n = possible.number;
    const where = n.country ? ` for ${n.country}` : '';
    return {
      value: n.number,
      valid: false,
      notes: [`${n.number} is not in a range libphonenumber lists as assigned${where}; kept, as its sender gave it, with lower confidence`],
    };
  }
  // Name the real reason: only a national number without a default country is a matter of settings.
  const lengthError = parsed.length ? validatePhoneNumberLength(parsed[parsed.length - 1].number) : undefined;
  const code = lengthError ?? error ?? 'INVALID_LENGTH';
  if (code === 'INVALID_COUNTRY' && !cleaned.startsWith('+') && !/^\d{8,15}$/.test(cleaned)) {
    return { reason: rules.defaultCountry ? `is not a valid number for ${rules.defaultCountry} and has no +country code` : 'has no +country code and no default country is set in the store settings' };
  }
  return { reason: PHONE_ERRORS[code] ?? 'is not a valid phone number' };
}

/** E.164 (+14155550123), or undefined when the value is not a possible phone number (see parsePhone). */
export function normalizePhone(raw: string, rules: PhoneRules = {}): string | undefined {
  const result = parsePhone(raw, rules);
  return 'value' in result ? result.value : undefined;
}

/** A username as the networks compare them: without "@", lower-case (Telegram and X usernames ignore case). */
const normalizeUsername = (raw: string): string | undefined => {
  const value = raw.trim().replace(/^@+/, '').toLowerCase();
  return /^[a-z0-9._-]{1,64}$/.test(value) ? value : undefined;
};

/** Normalises one validated handle; returns a reason instead when the value can not identify anyone. */
export function normalizeHandle(input: HandleInput, rules: IdentityRules): NormalizedHandle | SkippedHandle {
  const handle = parseInput(HandleInputSchema, input, 'handle');
  const skipped = (reason: string): SkippedHandle => ({ kind: handle.kind, value: handle.value, scope: handle.scope, reason });
  let value: string | undefined;
  let notes: string[] = [];
  switch (handle.kind) {
    case 'email':
      value = normalizeEmail(handle.value, rules.email);
      if (!value) return skipped('is not a valid email address');
      break;
    case 'phone': {
      const phone = parsePhone(handle.value, rules);
      // A made-up number is refused as one, whatever else is wrong with it.
      if ('reason' in phone) return skipped(blockedReason(rules, 'phone', handle.value) ?? phone.reason);
      value = phone.value;
      notes = phone.notes;
      break;
    }
    case 'username':
      value = normalizeUsername(handle.value);
      if (!value) return skipped('is not a username (letters, digits, ".", "_" and "-")');
      break;
    default:
      value = handle.value.trim();
  }
  const blocked = blockedReason(rules, handle.kind, value) ?? (value !== handle.value ? blockedReason(rules, handle.kind, handle.value) : undefined);
  if (blocked) return { kind: handle.kind, value, scope: handle.scope, reason: blocked };
  const shared = sharedReason(rules, handle.kind, value);
  return {
    kind: handle.kind,
    value,
    scope: handle.scope ?? '',
    trust: handle.trust,
    ...(shared ? { shared } : {}),
    ...(notes.length ? { notes } : {}),
  };
}

const isHandle = (h: NormalizedHandle | SkippedHandle): h is NormalizedHandle => 'trust' in h;

/** Normalises a list: drops what can not identify anyone (with reasons) and folds duplicates, keeping the highest trust. */
export function normalizeHandles(inputs: readonly HandleInput[], rules: IdentityRules): NormalizedHandles {
  const byKey = new Map<string, NormalizedHandle>();
  const skipped: SkippedHandle[] = [];
  for (const input of inputs) {
    const result = normalizeHandle(input, rules);
    if (!isHandle(result)) {
      skipped.push(result);
      continue;
    }
    const key = handleKey(result);
    const existing = byKey.get(key);
    byKey.set(key, existing ? { ...existing, trust: maxTrust(existing.trust, result.trust) } : result);
  }
  return { handles: [...byKey.values()], skipped };
}
