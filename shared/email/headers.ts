/**
 * Mail headers as RFC 5322 writes them: message ids (Message-ID, In-Reply-To, References), addresses and
 * reply subjects. Shared by parsing (channels/email.ts) and sending (smtp.ts).
 */
/** The `<id@host>` tokens of a Message-ID, In-Reply-To or References value (RFC 5322 3.6.4). */
export function messageIds(value: unknown): string[] {
  const values = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  const out: string[] = [];
  for (const v of values) {
    if (typeof v !== 'string') continue;
    const bracketed = v.match(/<[^<>\s]+>/g);
    const ids = bracketed ?? v.split(/[\s,]+/).filter(Boolean).map((id) => `<${id.replace(/^<|>$/g, '')}>`);
    for (const id of ids) if (id.length > 2 && id.length <= 512 && !out.includes(id)) out.push(id);
  }
  return out;
}

const EMAIL_RE = /^[^\s@<>()",;:]+@[^\s@<>()",;:]+$/;
export const isAddress = (value: string | undefined): value is string => !!value && value.length <= 512 && EMAIL_RE.test(value);

/** "Name <addr>" or "addr" (a display name with commas must be quoted, RFC 5322 3.4). */
export function parseAddress(value: unknown): { address: string; name?: string } | undefined {
  if (typeof value !== 'string') return undefined;
  const angle = value.match(/^\s*(?:"?([^"<]*?)"?\s*)?<([^<>]+)>\s*$/);
  if (angle && isAddress(angle[2].trim())) return { address: angle[2].trim(), name: angle[1]?.trim() || undefined };
  const bare = value.trim().split(/\s*,\s*/)[0];
  return isAddress(bare) ? { address: bare } : undefined;
}

const REPLY_PREFIX = /^\s*(?:re|aw|sv|antw|ref|réf|rif|r)\s*(?:\[\d+\])?\s*:/i;
/** "Re: <subject>", without stacking prefixes (Re:, AW:, SV:, Antw:, RE:...). */
export function replySubject(subject: string | undefined): string {
  const s = (subject ?? '').trim();
  return REPLY_PREFIX.test(s) ? s : `Re: ${s}`.trim();
}
