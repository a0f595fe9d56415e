/**
 * The built-in identity rules: what real support data is full of, known without configuration. Each rule
 * has an id, is listed in the README, and can be switched off on its own in the store settings (a team
 * testing with example.com addresses switches off `placeholder-emails`).
 *
 * Placeholders can not identify anybody: the handle is skipped, with the rule as its reason. Shared
 * values identify a household, an office or a team, not a person: they are kept, marked shared, and never
 * link two contacts (see resolve.ts). The phone rules rewrite a number to the one canonical form of its
 * line, so that two providers' spellings of one line meet.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import type { PhoneNumber } from 'libphonenumber-js/max';
import type { HandleKind } from '../model';

export const BUILT_IN_RULES = {
  'placeholder-values':
    'Placeholders typed into any field are not identities: null, none, n/a, unknown, anonymous, test, guest, "no email", keyboard mashes (asdf, qwerty, asdfgh), one letter or digit repeated.',
  'placeholder-emails':
    'Robot and made-up addresses are not identities: noreply@, mailer-daemon@, postmaster@; example.com, .test, .invalid and localhost; test@test.com, asdf@asdf.com, a@a.com, none@none.com, noemail@... and other addresses whose name is a placeholder.',
  'placeholder-phones':
    'Made-up numbers in any country format are not identities: one digit repeated, all zeros after the first digit, runs such as 1234567890 or 9876543210, and the unassigned North American area code 555.',
  'role-mailboxes':
    'Role mailboxes are shared (a team reads them): info@, support@, sales@, accounts@, billing@, office@, admin@, team@, hello@, contact@, enquiries@, help@, orders@, bookings@, reception@, hr@, jobs@ and their German, French, Spanish and Dutch equivalents. They never link two people.',
  'shared-phone-lines':
    'Fixed-line, toll-free, shared-cost, premium-rate and universal-access numbers (libphonenumber line types) belong to a household or an office: shared, they never link two people. Calls carrying only such a number go to that number\'s own contact; linking it to a person is a suggestion.',
  'brazil-ninth-digit':
    'A Brazilian mobile without the ninth digit (+55 DD 8xxx-xxxx, how WhatsApp still sends older accounts) is the same line as +55 DD 9 8xxx-xxxx (how SMS and calls arrive): both are recorded in the 9-digit form.',
  'mexico-mobile-prefix':
    'A Mexican mobile with the old "1" after +52 (how WhatsApp sends it) is the same line as the number without it: recorded without the 1.',
} as const;
export type BuiltInRule = keyof typeof BUILT_IN_RULES;
export const BUILT_IN_RULE_IDS = Object.keys(BUILT_IN_RULES) as [BuiltInRule, ...BuiltInRule[]];

type Switches = Readonly<Record<BuiltInRule, boolean>>;

// ---------------------------------------------------------------------------------------------
// Placeholders
// ---------------------------------------------------------------------------------------------

/** Handles a person types (or a system fills in); provider-assigned ids (Telegram, WhatsApp, PSIDs) are never placeholders. */
const TYPED_KINDS: ReadonlySet<HandleKind> = new Set(['email', 'phone', 'account', 'external_id', 'webchat_visitor', 'username']);

const PLACEHOLDER_WORDS = new Set([
  'null', 'nil', 'none', 'nothing', 'undefined', 'unknown', 'anonymous', 'anon', 'n/a', 'na', 'n.a.', 'test', 'testing', 'guest', 'user',
  'visitor', 'customer', 'no', 'nope', 'no email', 'noemail', 'no-email', 'no mail', 'nomail', 'no phone', 'nophone', 'not provided',
  'not given', 'not available', 'unavailable', 'private', 'withheld', 'fake', 'dummy', 'sample', 'example', 'xxx', 'abc', 'abcd', 'abc123',
  'asdf', 'asdfg', 'asdfgh', 'asdfghjkl', 'qwer', 'qwert', 'qwerty', 'qwertz', 'azerty', 'zxcv', 'zxcvb', 'jkl', 'hjkl', 'sdf', 'dfgh', 'blah', 'foo', 'bar', 'foobar',
]);
/** Empty once separators go, or one character repeated ("aaaa", "0000", "----", "x"). */
const REPEATED_OR_EMPTY = /^(?:|(.)\1*)$/i;

function placeholderValue(value: string): boolean {
  const lower = value.trim().toLowerCase();
  return PLACEHOLDER_WORDS.has(lower) || REPEATED_OR_EMPTY.test(lower.replace(/[\s.\-_+*#()/]/g, ''));
}

const ROBOT_LOCAL = /^(?:no-?reply|do-?not-?reply|donotreply|mailer-daemon|postmaster|bounces?|nobody)(?:[+.-].*)?$/;
const RESERVED_DOMAIN = /(?:^|\.)(?:example\.(?:com|org|net)|example|test|invalid|localhost|local)$/;
const FAKE_LOCAL = new Set(['test', 'email', 'mail', 'me', 'you', 'your', 'yourname', 'name', 'user', 'someone', 'somebody', 'abc', 'a', 'x', 'xx', 'xxx', 'info1']);

function placeholderEmail(value: string): boolean {
  const [local = '', domain = ''] = value.toLowerCase().split('@');
  if (ROBOT_LOCAL.test(local) || RESERVED_DOMAIN.test(domain)) return true;
  if (placeholderValue(local)) return true;
  const label = domain.split('.')[0];
  // test@test.com, asdf@asdf.com, a@a.com, email@email.com: the name repeats the domain, or both are made up.
  if (local === label || (FAKE_LOCAL.has(local) && (placeholderValue(label) || FAKE_LOCAL.has(label)))) return true;
  return false;
}

/**
 * A normalised number parsed once for both rules that read it (placeholder and shared line), rather than
 * twice per handle: libphonenumber's parse and line type are the larger part of a WhatsApp message's
 * identity work. Bounded: the most recent numbers stay, the oldest go first.
 */
const PARSED_LIMIT = 1024;
const parsedNumbers = new Map<string, PhoneNumber | undefined>();
function parsedE164(e164: string): PhoneNumber | undefined {
  if (parsedNumbers.has(e164)) return parsedNumbers.get(e164);
  const parsed = e164.startsWith('+') ? parsePhoneNumberFromString(e164) : undefined;
  if (parsedNumbers.size >= PARSED_LIMIT) parsedNumbers.delete(parsedNumbers.keys().next().value!);
  parsedNumbers.set(e164, parsed);
  return parsed;
}

const ASCENDING = '01234567890123456789';
const DESCENDING = '98765432109876543210';

/** On the national number (digits after the country code), so that every country's spelling is caught. */
function placeholderPhone(e164: string): boolean {
  // The raw form is checked too (normalize.ts), a wa_id's bare digits on every WhatsApp message: without
  // a + and a country, libphonenumber throws (and catches) an error, whose stack trace cost 2% of a
  // Node-RED trigger's CPU. Such a value is read as its digits.
  const parsed = parsedE164(e164);
  const national = parsed?.nationalNumber ?? e164.replace(/\D/g, '');
  if (/^(\d)\1+$/.test(national) || /^\d0{5,}$/.test(national)) return true;
  if (national.length >= 7 && (ASCENDING.includes(national) || DESCENDING.includes(national))) return true;
  // A run of eight digits in a row (07123 456789, +44 1234 567890): typed to get past a form, never assigned.
  for (let i = 0; i + 8 <= national.length; i++) {
    const run = national.slice(i, i + 8);
    if (ASCENDING.includes(run) || DESCENDING.includes(run)) return true;
  }
  // 555 is not an assigned North American area code: (555) 555-5555 and friends are placeholders.
  return parsed?.countryCallingCode === '1' && national.startsWith('555');
}

/** Why a built-in placeholder rule refuses this (normalised) value, or undefined. */
export function builtInPlaceholder(on: Switches, kind: HandleKind, value: string): string | undefined {
  if (!TYPED_KINDS.has(kind)) return undefined;
  if (on['placeholder-values'] && placeholderValue(value)) return 'is a placeholder value (built-in rule placeholder-values)';
  if (kind === 'email' && on['placeholder-emails'] && placeholderEmail(value)) return 'is a placeholder or robot address (built-in rule placeholder-emails)';
  if (kind === 'phone' && on['placeholder-phones'] && placeholderPhone(value)) return 'is a placeholder number (built-in rule placeholder-phones)';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Shared values
// ---------------------------------------------------------------------------------------------

const ROLE_LOCALS = new Set([
  // English
  'info', 'information', 'support', 'sales', 'accounts', 'account', 'accounting', 'billing', 'invoices', 'invoice', 'finance', 'payments',
  'office', 'admin', 'administrator', 'administration', 'team', 'hello', 'hi', 'contact', 'contactus', 'enquiries', 'enquiry', 'inquiries',
  'inquiry', 'help', 'helpdesk', 'service', 'services', 'customerservice', 'customercare', 'care', 'orders', 'order', 'bookings', 'booking',
  'reservations', 'reception', 'frontdesk', 'hr', 'jobs', 'careers', 'recruiting', 'marketing', 'press', 'media', 'webmaster', 'it',
  'feedback', 'general', 'mail', 'post', 'shop', 'store', 'studio', 'partners', 'operations', 'ops', 'legal', 'privacy', 'security', 'abuse',
  // German, French, Spanish, Dutch
  'kontakt', 'anfragen', 'anfrage', 'buchhaltung', 'rechnung', 'rechnungen', 'vertrieb', 'verwaltung', 'empfang', 'bestellung', 'bestellungen', 'buero', 'büro',
  'accueil', 'commande', 'commandes', 'facturation', 'comptabilite', 'comptabilité', 'bonjour', 'secretariat', 'secrétariat',
  'contacto', 'ventas', 'facturacion', 'facturación', 'atencion', 'atención', 'reservas', 'administracion', 'administración', 'hola',
  'klantenservice', 'verkoop', 'boekhouding', 'facturen', 'receptie',
]);

/** Line types a household or an office shares (libphonenumber's getType()). FIXED_LINE_OR_MOBILE (North America) is not one: it can not be told apart. */
const SHARED_LINE_TYPES = new Set(['FIXED_LINE', 'TOLL_FREE', 'SHARED_COST', 'UAN', 'PREMIUM_RATE', 'VOICEMAIL']);
const LINE_NAMES: Record<string, string> = {
  FIXED_LINE: 'a fixed line',
  TOLL_FREE: 'a toll-free number',
  SHARED_COST: 'a shared-cost number',
  UAN: 'a company (universal access) number',
  PREMIUM_RATE: 'a premium-rate number',
  VOICEMAIL: 'a voicemail number',
};

/** Why a built-in rule makes this (normalised) value shared, or undefined. */
export function builtInShared(on: Switches, kind: HandleKind, value: string): string | undefined {
  if (kind === 'email' && on['role-mailboxes']) {
    const local = value.toLowerCase().split('@')[0].split('+')[0].replace(/[._-]/g, '');
    if (ROLE_LOCALS.has(local)) return 'a role mailbox (built-in rule role-mailboxes)';
  }
  if (kind === 'phone' && on['shared-phone-lines']) {
    const type = parsedE164(value)?.getType();
    if (type && SHARED_LINE_TYPES.has(type)) return `${LINE_NAMES[type]}, shared by a household or an office (built-in rule shared-phone-lines)`;
  }
  return undefined;
}
