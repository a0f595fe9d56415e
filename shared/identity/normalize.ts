/**
 * Normalisation turns what a channel hands us into one canonical value per handle, so that
 * "Jane@Example.COM " and "jane@example.com", or "020 7946 0958" and "+442079460958", are one handle.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { Handle, HandleInput, HandleInputSchema, handleKey, maxTrust, parseInput } from '../model';
import { IdentityRules, blockedReason } from './rules';

/** A handle we could not use, and why: part of every explanation. */
export interface SkippedHandle {
  kind: string;
  value: string;
  scope?: string;
  reason: string;
}

export interface NormalizedHandles {
  handles: Handle[];
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

/** E.164 (+14155550123), or undefined when the number is not a valid phone number. */
export function normalizePhone(raw: string, rules: Pick<IdentityRules, 'defaultCountry'>): string | undefined {
  const cleaned = raw.trim().replace(/^(?:tel|sms|whatsapp):/i, '');
  // WhatsApp and some providers send international numbers without the leading "+".
  const candidates = [cleaned];
  if (/^\d{8,15}$/.test(cleaned)) candidates.push(`+${cleaned}`);
  for (const candidate of candidates) {
    const parsed = parsePhoneNumberFromString(candidate, rules.defaultCountry);
    if (parsed?.isValid()) return parsed.number;
  }
  return undefined;
}

/** Normalises one validated handle; returns a reason instead when the value can not identify anyone. */
export function normalizeHandle(input: HandleInput, rules: IdentityRules): Handle | SkippedHandle {
  const handle = parseInput(HandleInputSchema, input, 'handle');
  const skipped = (reason: string): SkippedHandle => ({ kind: handle.kind, value: handle.value, scope: handle.scope, reason });
  let value: string | undefined;
  switch (handle.kind) {
    case 'email':
      value = normalizeEmail(handle.value, rules.email);
      if (!value) return skipped('is not a valid email address');
      break;
    case 'phone':
      value = normalizePhone(handle.value, rules);
      if (!value) {
        return skipped(rules.defaultCountry ? 'is not a valid phone number' : 'is not a valid phone number (no default country is set for numbers without +country code)');
      }
      break;
    default:
      value = handle.value.trim();
  }
  const blocked = blockedReason(rules, handle.kind, value) ?? (value !== handle.value ? blockedReason(rules, handle.kind, handle.value) : undefined);
  if (blocked) return { kind: handle.kind, value, scope: handle.scope, reason: blocked };
  return { kind: handle.kind, value, scope: handle.scope ?? '', trust: handle.trust };
}

const isHandle = (h: Handle | SkippedHandle): h is Handle => 'trust' in h;

/** Normalises a list: drops what can not identify anyone (with reasons) and folds duplicates, keeping the highest trust. */
export function normalizeHandles(inputs: readonly HandleInput[], rules: IdentityRules): NormalizedHandles {
  const byKey = new Map<string, Handle>();
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
