/**
 * Erasing a person's values from rows that are not theirs: someone else typed their email in a message,
 * a group chat's payload names them, a merge suggestion between two others quotes their number. Erase
 * deletes the person's own rows; this finds their values everywhere else and replaces them with
 * "[erased]".
 *
 * - Emails: anywhere, in any case.
 * - Phones: however they were written: +44 7911 123456, 07911-123456, +44 (0)7911 123456, 447911123456
 *   (a WhatsApp wa_id), 00447911123456: any run of digits and separators whose digits are the number in
 *   international, national or trunk-prefixed form.
 * - Other ids (account ids, channel user ids, usernames) of 5 characters or more: as whole tokens.
 *
 * Rows are found in SQL (a LIKE on the value, or on the digits of the text with separators removed) so
 * erase never loads the whole store; the replacement is done here, on the text and on every string of
 * the JSON columns (the kept raw payload included). Values encoded inside a kept payload (a base64 MIME
 * part) can not be seen: set Raw Payload Kept to 0 where that matters.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import type { SqlExecutor, SqlParam } from '../store/driver';
import { inList } from '../store/driver';

export const ERASED = '[erased]';

interface Needles {
  emails: string[];
  /** Per number, its digit forms: international (no +), national significant, trunk-prefixed (0...). */
  phones: { forms: Set<string>; search: string }[];
  tokens: string[];
}

export interface ValueToErase {
  kind: string;
  value: string;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

export function needlesFor(values: readonly ValueToErase[]): Needles {
  const needles: Needles = { emails: [], phones: [], tokens: [] };
  for (const { kind, value } of values) {
    if (kind === 'email') needles.emails.push(value.toLowerCase());
    else if (kind === 'phone' || kind === 'whatsapp_id') {
      const digits = value.replace(/\D/g, '');
      if (digits.length < 6) continue;
      const parsed = parsePhoneNumberFromString(`+${digits}`);
      const national = parsed?.nationalNumber ? String(parsed.nationalNumber) : digits.slice(-9);
      const country = parsed?.countryCallingCode ?? '';
      // +44 7911..., 44 7911... (a wa_id), 07911..., 0044 7911..., +44 (0)7911...
      const forms = [digits, national, `0${national}`, `00${digits}`, `${country}0${national}`];
      needles.phones.push({ forms: new Set(forms), search: national });
    } else if (value.length >= 5) needles.tokens.push(value);
  }
  needles.emails = [...new Set(needles.emails)];
  needles.tokens = [...new Set(needles.tokens)];
  return needles;
}

export const hasNeedles = (n: Needles): boolean => n.emails.length + n.phones.length + n.tokens.length > 0;

/** The text with every needle replaced by [erased]. */
export function redactText(text: string, needles: Needles): string {
  let out = text;
  for (const email of needles.emails) out = out.replace(new RegExp(escapeRegExp(email), 'gi'), ERASED);
  if (needles.phones.length) {
    // A run of digits with the separators people type; its digits decide whether it is the number.
    out = out.replace(/\+?\(?\d[\d\s().\-/]{4,}\d/g, (run) => {
      const digits = run.replace(/\D/g, '');
      return needles.phones.some((p) => p.forms.has(digits)) ? ERASED : run;
    });
  }
  for (const token of needles.tokens) out = out.replace(new RegExp(`(?<![\\w.@-])${escapeRegExp(token)}(?![\\w-])`, 'g'), ERASED);
  return out;
}

/**
 * Every string in a JSON value redacted (keys too: a payload may key by a phone number), and numbers that
 * are one of the values (Telegram's user ids are JSON numbers).
 */
export function redactJson(value: unknown, needles: Needles): unknown {
  if (typeof value === 'string') return redactText(value, needles);
  if (typeof value === 'number') return redactText(String(value), needles) === ERASED ? ERASED : value;
  if (Array.isArray(value)) return value.map((v) => redactJson(v, needles));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [redactText(k, needles), redactJson(v, needles)]));
  }
  return value;
}

/** The digits of a column: the separators people type removed, in SQL both stores understand. */
const digitsOf = (column: string) => `REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(${column}, ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), '/', '')`;

/** A WHERE clause matching rows whose columns may hold a needle (the redaction decides for sure). */
function candidates(columns: readonly string[], needles: Needles): { sql: string; params: SqlParam[] } {
  const parts: string[] = [];
  const params: SqlParam[] = [];
  for (const column of columns) {
    for (const email of needles.emails) {
      parts.push(`LOWER(${column}) LIKE ? ESCAPE '\\'`);
      params.push(`%${escapeLike(email)}%`);
    }
    for (const phone of needles.phones) {
      parts.push(`${digitsOf(column)} LIKE ?`);
      params.push(`%${phone.search}%`);
    }
    for (const token of needles.tokens) {
      parts.push(`${column} LIKE ? ESCAPE '\\'`);
      params.push(`%${escapeLike(token)}%`);
    }
  }
  return { sql: parts.length ? `(${parts.join(' OR ')})` : '(1 = 0)', params };
}

interface ScrubTarget {
  table: string;
  /** The row's key columns. */
  key: readonly string[];
  text: readonly string[];
  json: readonly string[];
  /** Rows of the erased people are deleted, not scrubbed: this column names whose a row is. */
  owner: readonly string[];
}

const TARGETS: readonly ScrubTarget[] = [
  { table: 'events', key: ['id'], text: ['text'], json: ['data'], owner: ['contact_id'] },
  { table: 'contacts', key: ['id'], text: ['name'], json: ['attributes'], owner: ['id'] },
  { table: 'merges', key: ['id'], text: [], json: ['evidence'], owner: ['survivor_id', 'merged_id'] },
  { table: 'merge_suggestions', key: ['id'], text: ['reason'], json: ['evidence'], owner: ['contact_a', 'contact_b'] },
];

/** Scrubs the values from every row of the workspace not owned by `erased`. Returns the rows changed per table. */
export async function scrubValues(tx: SqlExecutor, workspace: string, erased: readonly string[], needles: Needles): Promise<Record<string, number>> {
  const changed: Record<string, number> = {};
  if (!hasNeedles(needles)) return changed;
  for (const target of TARGETS) {
    const columns = [...target.text, ...target.json];
    const where = candidates(
      columns.map((c) => `COALESCE(${c}, '')`),
      needles,
    );
    const notErased = target.owner.map((o) => `${o} NOT IN (${inList(erased)})`).join(' AND ');
    const rows = await tx.all<Record<string, string | null>>(
      `SELECT ${[...target.key, ...columns].join(', ')} FROM ${target.table} WHERE workspace = ? AND ${notErased} AND ${where.sql}`,
      [workspace, ...target.owner.flatMap(() => erased), ...where.params],
    );
    let count = 0;
    for (const row of rows) {
      const updates: [string, string][] = [];
      for (const c of target.text) {
        const before = row[c];
        if (before == null) continue;
        const after = redactText(before, needles);
        if (after !== before) updates.push([c, after]);
      }
      for (const c of target.json) {
        const before = row[c];
        if (before == null) continue;
        const after = JSON.stringify(redactJson(JSON.parse(before), needles));
        if (after !== before) updates.push([c, after]);
      }
      if (!updates.length) continue;
      await tx.run(`UPDATE ${target.table} SET ${updates.map(([c]) => `${c} = ?`).join(', ')} WHERE workspace = ? AND ${target.key.map((k) => `${k} = ?`).join(' AND ')}`, [
        ...updates.map(([, v]) => v),
        workspace,
        ...target.key.map((k) => row[k] as string),
      ]);
      count++;
    }
    if (count) changed[target.table] = count;
  }
  return changed;
}
