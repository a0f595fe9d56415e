/**
 * Issue 15: two real Node-RED 5 instances (child processes, test/reliability/node-red-process.ts) with the
 * Omnithread nodes on ONE PostgreSQL database, behind a round-robin HTTP proxy of this test's own, as a
 * load balancer puts them. The flow on both:
 *
 *   omnithread-in (WhatsApp, signed, respond flow) -> change (msg.reply = "re <wamid>") -> omnithread-reply -> http response
 *   omnithread-in (generic, signed, channel email, respond ack)
 *   http in POST /ti/followup -> change (msg.inReplyTo) -> omnithread-reply (reply key "followup") -> http response
 *   catch -> 500 with the error
 *
 * The replies go to a WhatsApp Cloud API stand-in (test/support/provider-server.ts) that counts the calls.
 * Several people each write on WhatsApp (their phone) and by email (their address, and in some messages
 * their phone as well), in rounds where a person's two channels arrive at the same moment on the two
 * instances: their contacts are created and merged concurrently. Deliveries go through the proxy; some
 * are concurrent duplicates (the same provider message id on both instances at once, straight to each),
 * some are redelivered later; whatever is not acknowledged is sent again, as a provider does.
 *
 * Asserted: 0 lost (every acknowledged message is one inbound event), 0 duplicated events, one contact per
 * person (every handle of theirs on one surviving contact, and no second contact made for them by a race:
 * merges only where their first email named no phone), each reply sent exactly once across the
 * instances (one provider call per answered message and reply key, also when both instances are asked to
 * send the same follow-up at once).
 */
import { request as httpRequest, createServer, Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { createTestStoreConfig } from '../support/stores';
import { startProvider, type ProviderServer } from '../support/provider-server';
import { hubSignature as sign } from '../support/signatures';
import { startNodeRed, type Credentials, type FlowNode, type NodeRed } from '../reliability/node-red-process';
import { PNID, errorAnswer, post, realNow, whatsappDelivery, type Answer } from '../reliability/kit';

jest.setTimeout(120_000);

const WORKSPACE = 'two-instances';
const TAB = 'ti-tab';
const STORE = 'ti-store';
const ACCOUNT = 'ti-wa-account';
const WA_IN = 'ti-in-whatsapp';
const MAIL_IN = 'ti-in-email';
const APP_SECRET = 'two-instances-meta-app-secret';
const GENERIC_SECRET = 'two-instances-generic-secret';
const WA_TOKEN = 'EAAG-two-instances-token';
const PATHS = { whatsapp: '/ti/whatsapp', email: '/ti/email', followup: '/ti/followup' };


// ---------------------------------------------------------------------------------------------
// The flow, the same on both instances
// ---------------------------------------------------------------------------------------------

function flows(apiBaseUrl: string): FlowNode[] {
  const change = (id: string, rules: unknown[], next: string, y: number): FlowNode => ({ id, type: 'change', z: TAB, name: '', rules, x: 400, y, wires: [[next]] });
  const reply = (id: string, replyKey: string, y: number): FlowNode => ({
    id,
    type: 'omnithread-reply',
    z: TAB,
    name: `reply ${replyKey}`,
    store: STORE,
    whatsappAccount: ACCOUNT,
    channel: 'same',
    text: '',
    replyKey,
    retryBudgetSeconds: '',
    x: 620,
    y,
    wires: [['ti-http-ok']],
  });
  return [
    { id: TAB, type: 'tab', label: 'Two instances, one PostgreSQL' },
    { id: STORE, type: 'omnithread-store', name: 'shared PostgreSQL', storeType: 'postgres', poolSize: 5, workspace: WORKSPACE, autoMergeTrust: 'channel' },
    { id: ACCOUNT, type: 'omnithread-channel', name: 'whatsapp stand-in', channel: 'whatsapp', apiVersion: 'v21.0', apiBaseUrl },
    { id: WA_IN, type: 'omnithread-in', z: TAB, name: 'whatsapp', store: STORE, path: PATHS.whatsapp, channel: 'whatsapp', respond: 'flow', x: 160, y: 60, wires: [['ti-reply-text']] },
    change('ti-reply-text', [{ t: 'set', p: 'reply', pt: 'msg', to: '"re " & payload.message.providerMessageId', tot: 'jsonata' }], 'ti-reply-ack', 60),
    reply('ti-reply-ack', 'ack', 60),
    {
      id: MAIL_IN,
      type: 'omnithread-in',
      z: TAB,
      name: 'email (generic)',
      store: STORE,
      path: PATHS.email,
      channel: 'generic',
      respond: 'ack',
      signatureHeader: 'x-omnithread-signature',
      channelName: 'generic',
      defaultTrust: 'channel',
      x: 160,
      y: 140,
      wires: [[]],
    },
    { id: 'ti-http-followup', type: 'http in', z: TAB, name: '', url: PATHS.followup, method: 'post', upload: false, swaggerDoc: '', x: 160, y: 220, wires: [['ti-followup-to']] },
    change('ti-followup-to', [{ t: 'set', p: 'inReplyTo', pt: 'msg', to: 'payload.inReplyTo', tot: 'msg' }], 'ti-reply-followup', 220),
    reply('ti-reply-followup', 'followup', 220),
    { id: 'ti-http-ok', type: 'http response', z: TAB, name: '', statusCode: '', headers: {}, x: 820, y: 140, wires: [] },
    ...errorAnswer({ z: TAB, ids: ['ti-catch', 'ti-error', 'ti-http-error'], x: [160, 400, 620], y: 300 }),
  ];
}

const credentials = (postgresUrl: string): Credentials => ({
  [STORE]: { postgresUrl },
  [ACCOUNT]: { accessToken: WA_TOKEN },
  [WA_IN]: { appSecret: APP_SECRET },
  [MAIL_IN]: { secret: GENERIC_SECRET },
});

// ---------------------------------------------------------------------------------------------
// A round-robin proxy: each request to the next instance in turn, over keep-alive connections
// ---------------------------------------------------------------------------------------------

interface Proxy {
  base: string;
  forwarded: number[];
  close(): Promise<void>;
}

async function roundRobin(upstreams: string[]): Promise<Proxy> {
  const targets = upstreams.map((u) => new URL(u));
  const agents = targets.map(() => new Agent({ keepAlive: true }));
  const forwarded = targets.map(() => 0);
  let turn = 0;
  const server: Server = createServer((req, res) => {
    const i = turn;
    turn = (turn + 1) % targets.length;
    forwarded[i]++;
    const upstream = httpRequest({ hostname: targets[i].hostname, port: targets[i].port, path: req.url, method: req.method, headers: req.headers, agent: agents[i] }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (error) => {
      if (res.headersSent) res.destroy();
      else res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `proxy: ${error.message}` }));
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    forwarded,
    close: () =>
      new Promise<void>((resolve) => {
        agents.forEach((a) => a.destroy());
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// People and their messages
// ---------------------------------------------------------------------------------------------

const PEOPLE = Array.from({ length: 12 }, (_, i) => {
  const phone = `+4477009006${String(i).padStart(2, '0')}`;
  return { name: `Person ${i}`, phone, waId: phone.slice(1), email: `person${i}@two-instances.io` };
});
const ROUNDS = 3;

interface Message {
  id: string;
  person: number;
  channel: 'whatsapp' | 'email';
  path: string;
  body: string;
  headers: Record<string, string>;
}

function whatsappMessage(person: number, round: number): Message {
  const p = PEOPLE[person];
  const id = `wamid.ti-${person}-${round}`;
  const body = whatsappDelivery(p.waId, id, `WhatsApp message ${round} of ${p.name}`, { timestamp: String(Math.floor(realNow() / 1000) - 60 + round) }, p.name);
  return { id, person, channel: 'whatsapp', path: PATHS.whatsapp, body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': sign(APP_SECRET, body) } };
}

/** An email: the address always; the phone too in round 1 for every other person, and in round 2 for all (the merge). */
function emailMessage(person: number, round: number): Message {
  const p = PEOPLE[person];
  const id = `ti-mail-${person}-${round}`;
  const withPhone = round === 2 || (round === 1 && person % 2 === 0);
  const body = JSON.stringify({
    messageId: id,
    channel: 'email',
    from: { name: p.name, email: p.email, ...(withPhone ? { phone: p.phone } : {}) },
    text: `Email ${round} of ${p.name}`,
    sentAt: new Date(realNow() - 60_000 + round * 1000).toISOString(),
  });
  return { id, person, channel: 'email', path: PATHS.email, body, headers: { 'content-type': 'application/json', 'x-omnithread-signature': sign(GENERIC_SECRET, body) } };
}

/** A seeded generator, so a failure can be run again with the same deliveries. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

let provider: ProviderServer;
let store: Awaited<ReturnType<typeof createTestStoreConfig>>;
let pgUrl: string;
let instances: NodeRed[] = [];
let proxy: Proxy;

/** Provider calls per reply text ("re <wamid>", "followup <wamid>"). */
const callsWith = (text: string) => provider.seen.filter((r) => r.body?.text?.body === text).length;

beforeAll(async () => {
  let sent = 0;
  provider = await startProvider(async (request) => {
    if (!request.url.endsWith(`/v21.0/${PNID}/messages`) || request.headers.authorization !== `Bearer ${WA_TOKEN}`) {
      return { status: 400, body: { error: { message: `unexpected request ${request.method} ${request.url}`, code: 100 } } };
    }
    // A provider that takes a moment: a second sender of the same reply would be caught in the act.
    return { status: 200, delayMs: 40, body: { messaging_product: 'whatsapp', contacts: [{ input: request.body.to, wa_id: request.body.to }], messages: [{ id: `wamid.out-${++sent}` }] } };
  });
  store = await createTestStoreConfig('postgres');
  pgUrl = (store.config as { connectionString: string }).connectionString;
  const options = { flows: flows(provider.base), credentials: credentials(pgUrl) };
  instances = await Promise.all([startNodeRed(options), startNodeRed(options)]);
  proxy = await roundRobin(instances.map((i) => i.base));
});

afterAll(async () => {
  await proxy?.close();
  await Promise.all(instances.map((i) => i.stop()));
  await provider?.close();
  await store?.cleanup();
});

/** An answer (kit.ts post), or status 0 with the error when the request failed. */
type Sent = Pick<Answer, 'status' | 'json' | 'text'>;

const send = (base: string, message: Message): Promise<Sent> => post(base + message.path, message.body, message.headers).catch((error: Error) => ({ status: 0, text: error.message }));

async function query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: pgUrl });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

test('two Node-RED instances on one PostgreSQL: nothing lost or duplicated, one contact per person, every reply sent once', async () => {
  const started = performance.now();
  const r = rng(20260615);
  const acked = new Set<string>();
  const answers: Record<string, number> = {};
  const all: Message[] = [];
  const record = (message: Message, sent: Sent) => {
    const key = sent.status === 200 ? '200' : `${sent.status} ${sent.json?.code ?? sent.json?.error ?? sent.text.slice(0, 60)}`;
    answers[key] = (answers[key] ?? 0) + 1;
    if (sent.status === 200) acked.add(message.id);
  };
  const [a, b] = instances;
  let concurrentDuplicates = 0;
  let redeliveries = 0;

  for (let round = 1; round <= ROUNDS; round++) {
    // Each person's WhatsApp and email of this round at the same moment; a third of the messages also
    // straight to both instances at once (the same provider message id twice, concurrently).
    const jobs: Promise<void>[] = [];
    for (let person = 0; person < PEOPLE.length; person++) {
      for (const message of [whatsappMessage(person, round), emailMessage(person, round)]) {
        all.push(message);
        if (r() < 0.35) {
          concurrentDuplicates++;
          jobs.push(...[a, b].map((instance) => send(instance.base, message).then((sent) => record(message, sent))));
        } else jobs.push(send(proxy.base, message).then((sent) => record(message, sent)));
      }
    }
    // Redeliveries of messages from earlier rounds, through the proxy, among this round's first sends.
    for (const message of all.slice(0, -PEOPLE.length * 2)) {
      if (r() < 0.3) {
        redeliveries++;
        jobs.push(send(proxy.base, message).then((sent) => record(message, sent)));
      }
    }
    await Promise.all(jobs);
  }
  // What was never acknowledged is sent again, as a provider retries (a few times).
  let resends = 0;
  for (let attempt = 0; attempt < 5 && all.some((m) => !acked.has(m.id)); attempt++) {
    const left = all.filter((m) => !acked.has(m.id));
    resends += left.length;
    await Promise.all(left.map((message) => send(proxy.base, message).then((sent) => record(message, sent))));
  }
  console.log(
    `two instances: ${all.length} messages from ${PEOPLE.length} people, ${concurrentDuplicates} sent to both instances at once, ${redeliveries} redeliveries, ${resends} resends; ` +
      `answers ${JSON.stringify(answers)}; the proxy forwarded ${proxy.forwarded.join(' + ')}; ${Math.round(performance.now() - started)} ms`,
  );
  expect(proxy.forwarded.every((n) => n > 0)).toBe(true);

  // 0 lost, 0 duplicated: every message acknowledged and recorded as exactly one inbound event.
  expect(all.filter((m) => !acked.has(m.id)).map((m) => m.id)).toEqual([]);
  const inbound = await query<{ pid: string; channel: string; n: string }>(
    "SELECT provider_message_id AS pid, channel, COUNT(*) AS n FROM events WHERE workspace = $1 AND kind = 'message' AND direction = 'inbound' GROUP BY provider_message_id, channel",
    [WORKSPACE],
  );
  const events = new Map(inbound.map((row) => [row.pid, Number(row.n)]));
  expect(all.filter((m) => events.get(m.id) !== 1).map((m) => `${m.id} x${events.get(m.id) ?? 0}`)).toEqual([]);
  expect(inbound.length).toBe(all.length);
  expect(Object.fromEntries(inbound.map((row) => [row.pid, row.channel]))).toEqual(Object.fromEntries(all.map((m) => [m.id, m.channel])));

  // One contact per person: every handle of theirs (phone, WhatsApp id, email) on one surviving contact.
  const handles = await query<{ value: string; root: string; merged: string | null }>(
    `SELECT h.value, r.id AS root, r.merged_into AS merged
       FROM handles h JOIN contacts c ON c.workspace = h.workspace AND c.id = h.contact_id
       JOIN contacts r ON r.workspace = c.workspace AND r.id = c.root_id
      WHERE h.workspace = $1`,
    [WORKSPACE],
  );
  const rootsOf = PEOPLE.map((p) => [...new Set(handles.filter((h) => [p.phone, p.waId, p.email].includes(h.value)).map((h) => h.root))]);
  expect(rootsOf.map((roots) => roots.length)).toEqual(PEOPLE.map(() => 1));
  expect(new Set(rootsOf.flat()).size).toBe(PEOPLE.length);
  expect(handles.filter((h) => h.merged !== null)).toEqual([]);
  const [{ n: rootsWithMessages }] = await query<{ n: string }>(
    "SELECT COUNT(DISTINCT c.root_id) AS n FROM events e JOIN contacts c ON c.workspace = e.workspace AND c.id = e.contact_id WHERE e.workspace = $1 AND e.kind = 'message'",
    [WORKSPACE],
  );
  expect(Number(rootsWithMessages)).toBe(PEOPLE.length);
  // Never two contacts made at once for one person: a merge only where the evidence came apart (a person
  // whose first email had no phone: two contacts until the second email names both), none where the first
  // WhatsApp message and an email with the same phone arrived together on the two instances.
  const [{ n: merges }] = await query<{ n: string }>('SELECT COUNT(*) AS n FROM merges WHERE workspace = $1', [WORKSPACE]);
  const [{ n: contacts }] = await query<{ n: string }>('SELECT COUNT(*) AS n FROM contacts WHERE workspace = $1', [WORKSPACE]);
  console.log(`two instances: ${PEOPLE.length} people -> ${new Set(rootsOf.flat()).size} contacts (${contacts} made) after ${merges} merges`);
  const apart = PEOPLE.filter((_, person) => !emailMessage(person, 1).body.includes('"phone"')).length;
  expect({ merges: Number(merges), contacts: Number(contacts) }).toEqual({ merges: apart, contacts: PEOPLE.length + apart });

  // Each WhatsApp message answered once: one provider call with its text, one outbound event.
  const whatsapp = all.filter((m) => m.channel === 'whatsapp');
  expect(whatsapp.filter((m) => callsWith(`re ${m.id}`) !== 1).map((m) => `${m.id} x${callsWith(`re ${m.id}`)}`)).toEqual([]);
  expect(provider.seen.length).toBe(whatsapp.length);

  // The same follow-up asked of both instances at once, for every WhatsApp message: one provider call each.
  const targets = await query<{ pid: string; id: string; contact: string }>(
    "SELECT e.provider_message_id AS pid, e.id, c.root_id AS contact FROM events e JOIN contacts c ON c.workspace = e.workspace AND c.id = e.contact_id WHERE e.workspace = $1 AND e.channel = 'whatsapp' AND e.direction = 'inbound'",
    [WORKSPACE],
  );
  const followups = await Promise.all(
    targets.flatMap((t) =>
      instances.map(async (instance) => {
        const body = JSON.stringify({ contactId: t.contact, inReplyTo: t.id, reply: `followup ${t.pid}` });
        return send(instance.base, { id: t.pid, person: -1, channel: 'whatsapp', path: PATHS.followup, body, headers: { 'content-type': 'application/json' } });
      }),
    ),
  );
  const statuses = followups.map((f) => (f.status === 200 ? `200 duplicate ${f.json?.duplicate}` : `${f.status} ${f.json?.code}`));
  console.log(`two instances: follow-ups asked twice at once -> ${JSON.stringify(statuses.reduce<Record<string, number>>((acc, s) => ({ ...acc, [s]: (acc[s] ?? 0) + 1 }), {}))}`);
  // Each pair: one sent it; the other reports the same send as a duplicate, or (still in flight) a CONFLICT.
  for (let i = 0; i < targets.length; i++) {
    const pair = followups.slice(i * 2, i * 2 + 2);
    expect(pair.filter((f) => f.status === 200 && f.json?.duplicate === false)).toHaveLength(1);
    for (const other of pair.filter((f) => !(f.status === 200 && f.json?.duplicate === false))) {
      expect(other.status === 200 ? other.json?.duplicate : other.json?.code).toBe(other.status === 200 ? true : 'CONFLICT');
    }
  }
  expect(targets.filter((t) => callsWith(`followup ${t.pid}`) !== 1).map((t) => `${t.pid} x${callsWith(`followup ${t.pid}`)}`)).toEqual([]);
  expect(provider.seen.length).toBe(whatsapp.length * 2);
  const [{ n: outbound }] = await query<{ n: string }>("SELECT COUNT(*) AS n FROM events WHERE workspace = $1 AND kind = 'message' AND direction = 'outbound'", [WORKSPACE]);
  expect(Number(outbound)).toBe(whatsapp.length * 2);

  // Neither instance logged an error.
  for (const instance of instances) expect(instance.log().split('\n').filter((l) => l.includes('[error]'))).toEqual([]);
});
