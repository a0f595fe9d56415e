'use strict';
/**
 * Value formats for the identity benchmark: names, phone numbers in real national numbering plans,
 * email addresses, the ids each provider sends, and what people type into forms instead of a real value.
 * Every generator takes the seeded rng of bench/common.js, so one seed always gives the same values.
 * Nothing here asks the core (or libphonenumber) what is valid: the benchmark must not inherit the
 * core's idea of a phone number, it has to test it.
 */

const digits = (r, n) => {
  let s = '';
  for (let i = 0; i < n; i++) s += r.int(0, 9);
  return s;
};
const fromAlphabet = (alphabet) => (r, n) => {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[r.int(0, alphabet.length - 1)];
  return s;
};
const hex = fromAlphabet('0123456789abcdef');
const base62 = fromAlphabet('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz');
const base64url = fromAlphabet('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_');
const uuid = (r) => `${hex(r, 8)}-${hex(r, 4)}-4${hex(r, 3)}-${r.pick(['8', '9', 'a', 'b'])}${hex(r, 3)}-${hex(r, 12)}`;
/** A number of `n` digits without a leading zero (Telegram, Messenger and X ids). */
const idDigits = (r, n) => `${r.int(1, 9)}${digits(r, n - 1)}`;

/**
 * Draws until the value is new in `taken` (one Set per value space): two people never share a value by
 * accident. `keyOf` says when two values are one (Gmail ignores dots, so maya.lind and mayalind are one).
 */
function unique(taken, make, keyOf = (v) => v) {
  for (let attempt = 0; ; attempt++) {
    const value = make(attempt);
    if (!taken.has(keyOf(value))) {
      taken.add(keyOf(value));
      return value;
    }
  }
}

/** The mailbox an address reaches: Gmail ignores dots and plus tags, everybody ignores case. */
function mailbox(email) {
  const [local, domain] = email.trim().toLowerCase().split('@');
  if (domain !== 'gmail.com') return `${local}@${domain}`;
  return `${local.split('+')[0].replace(/\./g, '')}@gmail.com`;
}

// ---------------------------------------------------------------------------------------------
// Countries: names, phone numbering plans, typed formats, email providers
// ---------------------------------------------------------------------------------------------

const group = (s, sizes) => {
  const parts = [];
  let at = 0;
  for (const size of sizes) {
    if (at >= s.length) break;
    parts.push(s.slice(at, at + size));
    at += size;
  }
  if (at < s.length) parts[parts.length - 1] += s.slice(at);
  return parts;
};

/**
 * Per country: a mobile and a landline generator returning the national significant number (NSN), and
 * how people write a number at home (national) and abroad (international). Landlines use the ranges
 * regulators keep for fiction where there are some (Ofcom's 020 7946 0xxx and 0113..0161 496 0xxx), so
 * no real household is named.
 */
const COUNTRIES = {
  GB: {
    cc: '44', weight: 40,
    first: ['Oliver', 'Amelia', 'Harry', 'Isla', 'George', 'Ava', 'Noah', 'Mia', 'Jack', 'Ivy', 'Leo', 'Freya', 'Arthur', 'Grace', 'Priya', 'Callum', 'Siobhan', 'Rhys'],
    last: ['Smith', 'Jones', 'Taylor', 'Brown', 'Williams', 'Wilson', 'Davies', 'Evans', 'Thomas', 'Roberts', 'Walker', 'Wright', 'Hughes', 'Patel', 'Khan', 'Murphy', 'Campbell', 'Lind'],
    mobile: (r) => `7${r.pick(['4', '5', '7', '8', '9'])}${r.int(1, 9)}${digits(r, 7)}`,
    landline: (r) => r.pick(['2079460', '1134960', '1144960', '1174960', '1214960', '1314960', '1414960', '1614960']) + digits(r, 3),
    national: (nsn) => (nsn.startsWith('7') ? `0${nsn.slice(0, 4)} ${nsn.slice(4)}` : nsn.startsWith('20') ? `0${group(nsn, [2, 4, 4]).join(' ')}` : `0${group(nsn, [3, 3, 4]).join(' ')}`),
    intl: (nsn) => `+44 ${group(nsn, nsn.startsWith('7') ? [4, 6] : nsn.startsWith('20') ? [2, 4, 4] : [3, 3, 4]).join(' ')}`,
    emailDomains: ['gmail.com', 'gmail.com', 'outlook.com', 'hotmail.co.uk', 'yahoo.co.uk', 'btinternet.com', 'icloud.com', 'sky.com'],
    tld: 'co.uk',
  },
  US: {
    cc: '1', weight: 15,
    first: ['James', 'Emily', 'Michael', 'Olivia', 'Daniel', 'Sophia', 'Ethan', 'Madison', 'Tyler', 'Hannah', 'Marcus', 'Keisha', 'Jose', 'Ashley'],
    last: ['Johnson', 'Miller', 'Davis', 'Garcia', 'Rodriguez', 'Martinez', 'Anderson', 'Jackson', 'Thompson', 'White', 'Harris', 'Clark', 'Lewis', 'Nguyen'],
    // Real area codes; exchanges 200-999 without N11 and 555 (the film range), so every number is a plausible line.
    mobile: (r) => {
      for (;;) {
        const exchange = String(r.int(200, 999));
        if (exchange === '555' || exchange.slice(1) === '11') continue;
        return r.pick(['212', '213', '305', '312', '404', '415', '503', '512', '602', '617', '646', '702', '713', '718', '720', '773', '818', '917', '206', '314']) + exchange + digits(r, 4);
      }
    },
    landline: (r) => COUNTRIES.US.mobile(r),
    national: (nsn) => `(${nsn.slice(0, 3)}) ${nsn.slice(3, 6)}-${nsn.slice(6)}`,
    intl: (nsn) => `+1 ${nsn.slice(0, 3)}-${nsn.slice(3, 6)}-${nsn.slice(6)}`,
    emailDomains: ['gmail.com', 'gmail.com', 'yahoo.com', 'outlook.com', 'icloud.com', 'aol.com', 'comcast.net'],
    tld: 'com',
  },
  DE: {
    cc: '49', weight: 12,
    first: ['Lukas', 'Hannah', 'Jonas', 'Lea', 'Felix', 'Marie', 'Paul', 'Lena', 'Maximilian', 'Sophie', 'Elias', 'Emma', 'Deniz', 'Anja'],
    last: ['Müller', 'Schmidt', 'Schneider', 'Fischer', 'Weber', 'Meyer', 'Wagner', 'Becker', 'Schulz', 'Hoffmann', 'Koch', 'Richter', 'Yılmaz', 'Wolf'],
    // 015x and most 017x numbers have eight digits after the prefix; the oldest blocks (0160, 0170, 0171, 0175) seven.
    mobile: (r) => {
      const prefix = r.pick(['151', '152', '157', '159', '160', '162', '163', '170', '171', '172', '173', '174', '175', '176', '177', '178', '179']);
      return prefix + idDigits(r, ['160', '170', '171', '175'].includes(prefix) ? 7 : 8);
    },
    landline: (r) => r.pick(['30', '40', '89']) + r.int(2, 9) + digits(r, r.int(6, 7)),
    national: (nsn) => (nsn.startsWith('1') ? `0${nsn.slice(0, 3)} ${nsn.slice(3)}` : `0${nsn.slice(0, 2)} ${nsn.slice(2)}`),
    intl: (nsn) => (nsn.startsWith('1') ? `+49 ${nsn.slice(0, 3)} ${nsn.slice(3)}` : `+49 ${nsn.slice(0, 2)} ${nsn.slice(2)}`),
    emailDomains: ['gmail.com', 'gmx.de', 'web.de', 't-online.de', 'outlook.de', 'posteo.de'],
    tld: 'de',
  },
  FR: {
    cc: '33', weight: 10,
    first: ['Louis', 'Chloé', 'Gabriel', 'Inès', 'Raphaël', 'Manon', 'Arthur', 'Camille', 'Hugo', 'Léa', 'Yanis', 'Sarah', 'Mathis', 'Juliette'],
    last: ['Martin', 'Bernard', 'Dubois', 'Thomas', 'Robert', 'Richard', 'Petit', 'Durand', 'Leroy', 'Moreau', 'Simon', 'Laurent', 'Benali', 'Fournier'],
    // Not 0639 and 069x: those blocks belong to overseas departments with their own country codes.
    mobile: (r) => (r() < 0.8 ? `6${r.pick(['0', '1', '2', '3', '4', '5', '6', '7', '8'])}${digits(r, 7)}`.replace(/^639/, '638') : `7${r.int(3, 8)}${digits(r, 7)}`),
    landline: (r) => `${r.pick(['1', '1', '4'])}${r.int(2, 9)}${digits(r, 7)}`,
    national: (nsn) => `0${nsn[0]} ${group(nsn.slice(1), [2, 2, 2, 2]).join(' ')}`,
    intl: (nsn) => `+33 ${nsn[0]} ${group(nsn.slice(1), [2, 2, 2, 2]).join(' ')}`,
    emailDomains: ['gmail.com', 'orange.fr', 'free.fr', 'hotmail.fr', 'laposte.net', 'sfr.fr'],
    tld: 'fr',
  },
  BR: {
    cc: '55', weight: 12,
    first: ['Miguel', 'Alice', 'Arthur', 'Helena', 'Heitor', 'Laura', 'Davi', 'Valentina', 'Bernardo', 'Júlia', 'Thiago', 'Larissa', 'Rafael', 'Beatriz'],
    last: ['Silva', 'Santos', 'Oliveira', 'Souza', 'Rodrigues', 'Ferreira', 'Alves', 'Pereira', 'Lima', 'Gomes', 'Costa', 'Ribeiro', 'Carvalho', 'Araújo'],
    // Mobiles: DDD + 9 + eight digits starting 6-9 (13 digits with 55); landlines DDD + 2-5 + seven digits.
    mobile: (r) => `${r.pick(['11', '21', '31', '41', '51', '61', '71', '81', '85', '19', '27', '48', '62'])}9${r.int(6, 9)}${digits(r, 7)}`,
    landline: (r) => `${r.pick(['11', '21', '31', '41', '51'])}${r.int(2, 5)}${digits(r, 7)}`,
    national: (nsn) => (nsn.length === 11 ? `(${nsn.slice(0, 2)}) ${nsn.slice(2, 7)}-${nsn.slice(7)}` : `(${nsn.slice(0, 2)}) ${nsn.slice(2, 6)}-${nsn.slice(6)}`),
    intl: (nsn) => `+55 ${nsn.slice(0, 2)} ${nsn.slice(2, nsn.length - 4)}-${nsn.slice(-4)}`,
    emailDomains: ['gmail.com', 'gmail.com', 'hotmail.com', 'outlook.com', 'uol.com.br', 'bol.com.br', 'yahoo.com.br'],
    tld: 'com.br',
  },
  ES: {
    cc: '34', weight: 6,
    first: ['Hugo', 'Lucía', 'Martín', 'Sofía', 'Pablo', 'Martina', 'Álvaro', 'Paula', 'Diego', 'Carmen', 'Javier', 'Nuria'],
    last: ['García', 'Fernández', 'González', 'Rodríguez', 'López', 'Martínez', 'Sánchez', 'Pérez', 'Gómez', 'Ruiz', 'Navarro', 'Torres'],
    mobile: (r) => (r() < 0.85 ? `6${digits(r, 8)}` : `7${r.int(1, 4)}${digits(r, 7)}`),
    landline: (r) => `9${r.pick(['1', '3', '5', '6'])}${r.int(2, 9)}${digits(r, 6)}`,
    national: (nsn) => `${nsn.slice(0, 3)} ${group(nsn.slice(3), [2, 2, 2]).join(' ')}`,
    intl: (nsn) => `+34 ${group(nsn, [3, 3, 3]).join(' ')}`,
    emailDomains: ['gmail.com', 'hotmail.es', 'yahoo.es', 'outlook.es', 'telefonica.net'],
    tld: 'es',
  },
};

/** A phone line: the country and its NSN; `e164` is the canonical form the scorer compares with. */
function line(country, nsn, type) {
  return { country, nsn, type, e164: `+${COUNTRIES[country].cc}${nsn}` };
}

/**
 * The sender id WhatsApp gives a line: E.164 without "+". Brazilian accounts made before the ninth digit
 * (2012-2016) keep their 12-digit wa_id ("55DD8xxxxxxx") while calls and SMS show the 13-digit number.
 */
const waIdOf = (phone, legacyBrazil) => (legacyBrazil ? `55${phone.nsn.slice(0, 2)}${phone.nsn.slice(3)}` : phone.e164.slice(1));

/** How a person writes their number in a form or a signature. */
function typedPhone(r, phone, style) {
  const c = COUNTRIES[phone.country];
  if (style === 'national') return c.national(phone.nsn);
  if (style === 'compact') return c.national(phone.nsn).replace(/[\s()-]/g, '');
  if (style === 'e164') return phone.e164;
  return c.intl(phone.nsn);
}

const ascii = (s) => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/ı/g, 'i').toLowerCase().replace(/[^a-z]/g, '');

/** A private address as people pick them: name-based, with a year or a number when the plain one is taken. */
function personalEmail(r, taken, first, last, domain) {
  const f = ascii(first);
  const l = ascii(last);
  const style = r.int(0, 6);
  const yy = String(r.int(60, 105) % 100).padStart(2, '0');
  const base = [`${f}.${l}`, `${f}${l}`, `${f[0]}${l}`, `${f}.${l}${yy}`, `${f}_${l}`, `${l}.${f}`, `${f}${l}${r.int(1, 999)}`][style];
  return unique(taken, (attempt) => `${attempt ? `${base}${attempt < 3 ? yy : ''}${attempt > 1 ? r.int(2, 9999) : ''}` : base}@${domain}`, mailbox);
}

const COMPANY_A = ['bright', 'north', 'oak', 'harbour', 'silver', 'blue', 'stone', 'river', 'cedar', 'summit', 'lumen', 'atlas', 'fern', 'kestrel', 'copper', 'meadow', 'pioneer', 'vertex', 'hafen', 'sol'];
const COMPANY_B = ['lane', 'field', 'works', 'point', 'gate', 'bridge', 'well', 'craft', 'way', 'moor', 'line', 'mark', 'wood', 'view'];
const COMPANY_C = ['logistics', 'studio', 'dental', 'legal', 'consulting', 'foods', 'print', 'media', 'health', 'partners', 'architects', 'motors', 'travel', 'solutions'];

/** A small company's own domain, e.g. brightlane-logistics.co.uk: where its role mailboxes live. */
const companyDomain = (r, taken, country) =>
  unique(taken, (attempt) => `${r.pick(COMPANY_A)}${r.pick(COMPANY_B)}${attempt > 3 ? r.int(2, 99) : ''}-${r.pick(COMPANY_C)}.${COUNTRIES[country].tld}`);

const ROLE_MAILBOXES = ['info', 'support', 'sales', 'billing', 'office', 'team', 'hello', 'contact'];

// ---------------------------------------------------------------------------------------------
// What people type when they do not want to give (or do not know) a real value
// ---------------------------------------------------------------------------------------------

const PLACEHOLDER_EMAILS = ['asdf@asdf.com', 'qwerty@qwerty.com', 'asdf@gmail.com', 'aaa@aaa.com', 'aaaaaaa', 'none', 'no email', 'n/a', 'na', 'noemail@gmail.com', 'x@x.com', 'xxx@xxx.com', 'test@test.com', 'nomail@nomail.com', 'a@a.com', '-'];
const PLACEHOLDER_PHONES = [
  '0000 000000', '00000000000', '01234 567890', '+44 1234 567890', '07000 000000', '07123 456789', '0123456789',
  '(555) 555-5555', '555-555-5555', '+1 (555) 555-5555', '123-456-7890', '1234567890', '9999999999', '11111111111',
  '+49 123 4567890', '0170 0000000', '06 00 00 00 00', '01 23 45 67 89', '(11) 99999-9999', '0', 'none', 'n/a', '-',
];

const DOMAIN_TYPOS = {
  'gmail.com': ['gmial.com', 'gmail.co', 'gamil.com', 'gmail.con', 'gmal.com'],
  'hotmail.com': ['hotmial.com', 'hotmail.co', 'hotmal.com'],
  'yahoo.com': ['yaho.com', 'yahoo.co'],
  'outlook.com': ['outlok.com', 'outlook.co'],
  'icloud.com': ['iclod.com', 'icloud.co'],
};

/** A typed address with one slip: a misspelt provider domain, or two neighbouring letters swapped. */
function typoEmail(r, email) {
  const [local, domain] = email.split('@');
  if (DOMAIN_TYPOS[domain] && r() < 0.6) return `${local}@${r.pick(DOMAIN_TYPOS[domain])}`;
  const spots = [];
  for (let i = 0; i + 1 < local.length; i++) if (/[a-z]/.test(local[i]) && /[a-z]/.test(local[i + 1]) && local[i] !== local[i + 1]) spots.push(i);
  if (!spots.length) return `${local}@${domain.replace('.', '')}.com`;
  const i = r.pick(spots);
  return `${local.slice(0, i)}${local[i + 1]}${local[i]}${local.slice(i + 2)}@${domain}`;
}

/** The same Gmail mailbox written another way: without (or with more) dots, or with a plus tag. */
function gmailVariant(r, email) {
  const [local] = email.split('@');
  const kind = r.int(0, 2);
  if (kind === 0 && local.includes('.')) return `${local.replace(/\./g, '')}@gmail.com`;
  if (kind === 1) return `${local}+${r.pick(['shop', 'orders', 'northwind', 'deals'])}@gmail.com`;
  const plain = local.replace(/\./g, '');
  const at = r.int(1, plain.length - 1);
  return `${plain.slice(0, at)}.${plain.slice(at)}@gmail.com`;
}

/** Capitalised or padded the way people type into a form; the same mailbox after lower-casing and trimming. */
const typedCase = (r, email) => (r() < 0.15 ? email[0].toUpperCase() + email.slice(1) : r() < 0.05 ? ` ${email} ` : email);

// ---------------------------------------------------------------------------------------------
// Provider ids, as each provider writes them
// ---------------------------------------------------------------------------------------------

const MAIL_HOSTS = { 'gmail.com': 'mail.gmail.com', 'outlook.com': 'eurprd04.prod.outlook.com', 'icloud.com': 'icloud.com' };
const ids = {
  /** RFC 5322 Message-ID; Gmail's look like <CA...@mail.gmail.com>. */
  emailMessageId: (r, from) => {
    const domain = from.split('@')[1];
    return domain === 'gmail.com' ? `<CA${base62(r, 44)}@mail.gmail.com>` : `<${hex(r, 16)}.${hex(r, 8)}@${MAIL_HOSTS[domain] ?? `mail.${domain}`}>`;
  },
  /** WhatsApp Cloud API message id: "wamid." + base64 of a protobuf that starts with the sender. */
  wamid: (r, sender) => `wamid.HBgM${Buffer.from(sender).toString('base64').replace(/=+$/, '')}FQIAEhgg${base62(r, 32)}AA==`,
  twilioSid: (r, prefix) => `${prefix}${hex(r, 32)}`,
  messengerMid: (r) => `m_${base64url(r, 86)}`,
  xEventId: (r) => idDigits(r, 19),
  webchatMessageId: (r) => `m-${hex(r, 12)}`,
  visitorId: (r) => `v-${uuid(r)}`,
  account: (r) => `cus_${base62(r, 14)}`,
  bsuid: (r, country) => `${country === 'GB' ? 'GB' : country}.${idDigits(r, 20)}`,
};

module.exports = {
  COUNTRIES, ROLE_MAILBOXES, PLACEHOLDER_EMAILS, PLACEHOLDER_PHONES,
  digits, hex, idDigits, unique, mailbox, line, waIdOf, typedPhone, ascii, personalEmail, companyDomain, typoEmail, gmailVariant, typedCase, ids,
};
