'use strict';
/**
 * Helpers shared by the benchmark parts: a seeded random generator, realistic people (names, emails,
 * valid E.164 phones), message texts, the store's SQLite PRAGMAs, percentiles and formatting.
 * Plain CommonJS over the compiled core in dist/shared: nothing here needs compiling.
 */
const { createHash, createHmac } = require('node:crypto');
const { readFileSync, rmSync } = require('node:fs');
const http = require('node:http');
const shared = require('../dist/shared');

/** mulberry32: small, fast, seeded; the same seed gives the same data on every run. */
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)); // inclusive
  next.pick = (list) => list[Math.floor(next() * list.length)];
  return next;
}

const FIRST = ['Ana', 'Ben', 'Chloe', 'David', 'Elena', 'Farid', 'Grace', 'Hugo', 'Ines', 'Jamal', 'Keiko', 'Liam', 'Maya', 'Nikolai', 'Olivia', 'Pedro', 'Quinn', 'Rosa', 'Sven', 'Tara', 'Umar', 'Vera', 'Wei', 'Ximena', 'Yusuf', 'Zoe'];
const LAST = ['Alvarez', 'Brown', 'Chen', 'Dubois', 'Evans', 'Fischer', 'Garcia', 'Hansen', 'Ito', 'Jensen', 'Khan', 'Lopez', 'Moreau', 'Nakamura', 'Okafor', 'Patel', 'Rossi', 'Silva', 'Tanaka', 'Novak', 'Weber', 'Young'];
const DOMAINS = ['bench-mail.io', 'inbox-bench.net', 'postbench.co', 'mailbench.dev', 'customers-bench.org'];
/** Real US area codes; exchanges 200-999 and random lines make valid, non-placeholder numbers. */
const AREAS = ['212', '213', '305', '312', '404', '415', '503', '512', '602', '617', '646', '702', '713', '718', '720', '773', '818', '917', '206', '314'];

/**
 * `count` people with a unique email and a unique phone that the core accepts: every phone is checked
 * with normalizePhone and the built-in blocklist, and stored already in its normalised (E.164) form.
 */
function makePeople(count, seed, tag) {
  const r = rng(seed);
  const rules = shared.compileRules();
  const phones = new Set();
  const people = new Array(count);
  for (let i = 0; i < count; i++) {
    const first = r.pick(FIRST);
    const last = r.pick(LAST);
    let phone;
    for (;;) {
      const exchange = String(r.int(200, 999));
      if (exchange[1] === '1' && exchange[2] === '1') continue; // N11 service codes
      const raw = `+1${r.pick(AREAS)}${exchange}${String(r.int(0, 9999)).padStart(4, '0')}`;
      if (phones.has(raw)) continue;
      const normalized = shared.normalizePhone(raw, rules);
      if (normalized !== raw || shared.blockedReason(rules, 'phone', raw)) continue;
      phone = raw;
      break;
    }
    phones.add(phone);
    const email = `${first}.${last}.${tag}${i}@${r.pick(DOMAINS)}`.toLowerCase();
    people[i] = { name: `${first} ${last}`, email, phone };
  }
  return people;
}

const OPENERS = ['Hi,', 'Hello,', 'Hey there,', 'Good morning,', 'Hi team,', 'Hello again,', ''];
const ASKS = [
  'my order has not arrived yet and the tracking page has not moved since Tuesday',
  'I was charged twice for the same subscription this month',
  'can I change the delivery address on the order I placed yesterday',
  'the discount code from your newsletter is not accepted at checkout',
  'I would like to return the blue jacket, it is one size too small',
  'the app keeps logging me out every time I open it on my phone',
  'is the standing desk back in stock, and does it ship to Canada',
  'I never received the invoice for my last purchase, could you send it again',
  'how long does a refund usually take to show up on my card',
  'the parcel arrived damaged, one of the glasses is broken',
];
const DETAILS = [
  'The order number is in my previous message.',
  'I already tried clearing the cache.',
  'Thanks for the quick answer last time.',
  'It is a gift so it is a bit urgent.',
  'Please call me if that is easier.',
  'I attached a photo.',
  'My account uses this email address.',
  '',
];
const REPLIES = [
  'Thanks for reaching out! I have checked your order and it left our warehouse this morning.',
  'Sorry about that. I have refunded the duplicate charge, it should appear within 3 to 5 business days.',
  'Done: the delivery address is updated. You will get a new confirmation email in a few minutes.',
  'That code expired last week, but I have applied the same discount to your order manually.',
  'No problem, here is your prepaid return label. Drop the parcel at any post office.',
  'Could you tell me which version of the app you are using? That will help us reproduce it.',
  'It is back in stock next Monday and yes, we ship to Canada.',
  'I have sent the invoice again; please check your spam folder as well.',
];

/** A message text: a short chat line, or a longer email body. */
function messageText(r, inbound, long) {
  if (!inbound) return r.pick(REPLIES) + (long ? ` ${r.pick(REPLIES)} Best regards, the support team.` : '');
  const opener = r.pick(OPENERS);
  const ask = r.pick(ASKS);
  const head = opener ? `${opener} ${ask}.` : `${ask[0].toUpperCase()}${ask.slice(1)}.`;
  if (!long) return r() < 0.5 ? head : `${head} ${r.pick(DETAILS)}`.trim();
  return `${head} ${r.pick(DETAILS)} ${r.pick(ASKS)}? ${r.pick(DETAILS)} Kind regards`.replace(/\s+/g, ' ').trim();
}

/** The store's own dedupe key (omnithread.ts `digest`). */
const digest = (...parts) => createHash('sha256').update(parts.join('\n')).digest('hex');

/**
 * The PRAGMAs SqliteDriver sets on every connection, read from the compiled driver itself
 * (dist/shared/store/sqlite.js), so the raw baselines keep matching the store as it changes. The store's
 * default durability (synchronous = NORMAL) is taken. Two are left out: the store turns SQLite's automatic
 * checkpoint off because it checkpoints on a worker thread of its own (shared/store/checkpointer.ts); a raw
 * connection has no such worker, so it keeps SQLite's automatic checkpoint, as any plain node:sqlite user.
 */
const STORE_ONLY_PRAGMAS = /wal_autocheckpoint|journal_size_limit/i;
const BUSY_TIMEOUT_MS = 15_000; // the store's default busyTimeoutMs
const STORE_PRAGMAS = (() => {
  const source = readFileSync(require.resolve('../dist/shared/store/sqlite.js'), 'utf8');
  const constructor = source.slice(source.indexOf('constructor('), source.indexOf('catch', source.indexOf('constructor(')));
  // A template's \${...}: the store's busy timeout option, or a numeric constant of the module (BLOCKING_WAIT_MS).
  const value = (expression) => {
    if (/busyTimeoutMs/.test(expression)) return String(BUSY_TIMEOUT_MS);
    if (expression.trim() === 'synchronous') return 'NORMAL';
    const constant = new RegExp(`\\bconst ${expression.trim()} = (\\d+)`).exec(source);
    if (!constant) throw new Error(`could not read \${${expression}} in the PRAGMAs of dist/shared/store/sqlite.js`);
    return constant[1];
  };
  const found = [...constructor.matchAll(/exec\((['`])(PRAGMA [^'`]+)\1\)/g)]
    .map((m) => m[2])
    .filter((pragma) => !STORE_ONLY_PRAGMAS.test(pragma))
    .map((pragma) => pragma.replace(/\$\{([^}]*)\}/g, (_, expression) => value(expression)));
  if (!found.some((p) => /journal_mode/i.test(p))) throw new Error('could not read the PRAGMAs of dist/shared/store/sqlite.js');
  return found;
})();
function storePragmas(db) {
  for (const pragma of STORE_PRAGMAS) db.exec(pragma);
}

/** Every statement of the store's migrations, in SQLite syntax (as migrationStatements makes them). */
function schemaStatements() {
  return shared.MIGRATIONS.flatMap((m) =>
    m.sql
      .replace(/\{\{seq\}\}/g, 'INTEGER PRIMARY KEY AUTOINCREMENT')
      .replace(/\{\{int\}\}/g, 'INTEGER')
      .split(/;\s*\n/)
      .map((s) => s.trim())
      .filter(Boolean),
  );
}

/** The statements that create one table and its indexes. */
function schemaOf(table) {
  return schemaStatements().filter((s) => new RegExp(`^CREATE TABLE ${table} |^CREATE (?:UNIQUE )?INDEX \\w+ ON ${table} `).test(s));
}

/** Nearest-rank percentiles and the max, in milliseconds, of durations in nanoseconds. */
function summarize(ns) {
  const sorted = Float64Array.from(ns, (v) => Number(v) / 1e6).sort();
  const at = (p) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
  const mean = sorted.reduce((s, v) => s + v, 0) / sorted.length;
  return { n: sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted[sorted.length - 1], mean };
}

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const MiB = (bytes) => Math.round((bytes / 1048576) * 10) / 10;

function removeDb(file) {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true });
}

/** Resident memory now, in MiB, after a full GC when the process was started with --expose-gc. */
function rssMiB() {
  if (global.gc) {
    global.gc();
    global.gc();
  }
  const m = process.memoryUsage();
  return { rss: MiB(m.rss), heapUsed: MiB(m.heapUsed), heapTotal: MiB(m.heapTotal), external: MiB(m.external) };
}

/**
 * sha256= and the hex HMAC-SHA256 of a body with a secret: WhatsApp's X-Hub-Signature-256 (the app
 * secret) and the generic channel's X-Omnithread-Signature (its secret).
 */
const hmacSignature = (secret, body) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

/**
 * The load generators' request: POST `body` (JSON) to `url` (a URL) over `agent` (keep-alive connections),
 * with `headers` (a signature) besides content type and length. Resolves with { status, text }; one not
 * answered within `timeoutMs` fails with code ETIMEDOUT_BENCH.
 */
function postOver(agent, url, body, headers, timeoutMs) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        hostname: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT_BENCH' })));
    req.on('error', reject);
    req.end(body);
  });
}

/** The kind a failed request of postOver is counted under. */
function failureKind(error) {
  if (error.code === 'ETIMEDOUT_BENCH') return 'timeout';
  if (error.code === 'ECONNRESET' || error.code === 'EPIPE') return 'reset';
  if (error.code === 'ECONNREFUSED') return 'refused';
  return `error ${error.code || error.message}`;
}

/**
 * A store whose driver tells onStatement(sql, params) of every statement it sends, then sends it: for the
 * benches that count statements or ask SQLite for their plans. It passes every method of SqlDriver and
 * SqlTransaction through, so a method added there is added here once.
 */
function tracedStore(driver, onStatement) {
  const wrap = (executor) => ({
    all: (sql, params) => (onStatement(sql, params), executor.all(sql, params)),
    get: (sql, params) => (onStatement(sql, params), executor.get(sql, params)),
    run: (sql, params) => (onStatement(sql, params), executor.run(sql, params)),
    defer: (sql, params) => (onStatement(sql, params), executor.defer(sql, params)),
    many: (statements, options) => (statements.forEach((st) => onStatement(st.sql, st.params)), executor.many(statements, options)),
    lock: (...args) => executor.lock(...args),
    lockScoped: (...args) => executor.lockScoped(...args),
  });
  const traced = {
    dialect: driver.dialect,
    transaction: (fn) => driver.transaction((tx) => fn(wrap(tx))),
    read: (fn) => driver.read((db) => fn(wrap(db))),
    readOne: (sql, params) => (onStatement(sql, params), driver.readOne(sql, params)),
    purgeDeleted: (options) => driver.purgeDeleted(options),
    close: () => driver.close(),
  };
  return { driver: traced, close: () => undefined };
}

module.exports = { tracedStore, rng, makePeople, messageText, digest, storePragmas, STORE_PRAGMAS, schemaOf, schemaStatements, summarize, median, MiB, removeDb, rssMiB, hmacSignature, postOver, failureKind, BUSY_TIMEOUT_MS };
