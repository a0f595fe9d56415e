/**
 * The desk's API (shared/desk/server.ts) on both stores, as a browser and an attacker would call it:
 * sign-in (password, one-time link, rate limit, expiry), the security of every write (no session, a forged
 * cookie, no or a wrong CSRF token, a cross-site Origin, another workspace's ids: refused and nothing
 * written), roles, and what an agent does (inbox, person, reply exactly once, note, assign, transfer,
 * accept, resolve, merge suggestions and unmerge, live changes), each left on the timeline with their id.
 */
import { createDesk, deskContract, runRoute, type Desk, type DeskHttpResponse, type Omnithread } from '../../shared';
import { csatScoreOf } from '../../shared/facade/csat';
import { describeStores } from '../support/stores';
import { email, message, phone, scoped } from '../support/messages';

const BASE = 'http://desk.test/omnithread/desk';
const ADMIN_PASSWORD = 'correct horse battery';
type Json = Record<string, unknown>;

interface Client {
  cookie?: string;
  csrf?: string;
}

function call(desk: Desk, client: Client, method: 'GET' | 'POST', op: string, body?: unknown, extra: Record<string, string> = {}, query = ''): Promise<DeskHttpResponse> {
  return desk.handle({
    method,
    url: `${BASE}?op=${op}${query}`,
    headers: {
      host: 'desk.test',
      ...(client.cookie ? { cookie: client.cookie } : {}),
      ...(client.csrf ? { [deskContract.CSRF_HEADER]: client.csrf } : {}),
      ...(method === 'POST' ? { 'content-type': 'application/json', origin: 'http://desk.test', 'sec-fetch-site': 'same-origin' } : {}),
      ...extra,
    },
    body: body === undefined ? undefined : Buffer.from(JSON.stringify(body)),
    ip: '203.0.113.7',
  });
}
const parse = (r: DeskHttpResponse): Json => JSON.parse(String(r.body)) as Json;
const cookieOf = (r: DeskHttpResponse): string => String(r.headers['Set-Cookie']).split(';')[0];

async function signIn(desk: Desk, agentId: string, password: string): Promise<Client> {
  const r = await call(desk, {}, 'POST', 'signin', { agentId, password });
  expect(r.status).toBe(200);
  return { cookie: cookieOf(r), csrf: String(parse(r).csrf) };
}

/** Every row the desk could have written: events, conversations' assignment, merges, suggestions, access. */
async function fingerprint(ot: Omnithread, contactId: string): Promise<string> {
  const [page, conversations, log, suggestions, access] = await Promise.all([
    ot.timeline(contactId, { limit: 1000 }),
    ot.routingContext(contactId, { limit: 1 }),
    ot.mergeLog(contactId),
    ot.suggestions({ status: 'open' }),
    ot.deskData().listAccess(),
  ]);
  return JSON.stringify([page.events.map((e) => e.id), conversations.conversations.map((c) => [c.id, c.status, c.assignedAgentId]), log, suggestions, access]);
}

describeStores('desk API', (ctx) => {
  let now: number;
  let ot: Omnithread;
  let desk: Desk;
  let maya: string;
  let conversationId: string;

  beforeEach(async () => {
    now = Date.parse('2026-11-30T09:00:00Z');
    ot = ctx().omnithread({ clock: () => now, rules: { defaultCountry: 'GB' } });
    await ot.roster().upsert({ id: 'ben', name: 'Ben', kind: 'human' });
    await ot.roster().upsert({ id: 'cleo', name: 'Cleo', kind: 'human' });
    await ot.roster().upsert({ id: 'bot', name: 'Helper bot', kind: 'ai' });
    desk = createDesk({ omnithread: async () => ot, reply: { channels: {} }, admin: { agentId: 'ada', name: 'Ada', password: ADMIN_PASSWORD }, changesPollMs: 20 });
    const chat = await ot.ingest(
      message([], {
        channel: 'webchat',
        channelAccount: 'shop',
        replyTo: { visitorId: 'v-1', siteId: 'shop' },
        text: 'My order 4411 never arrived',
        from: { name: 'Maya Patel', handles: [scoped('webchat_visitor', 'shop', 'v-1'), email('maya.patel@fastmail.com', 'verified')] },
      }),
    );
    maya = chat.contact.id;
    conversationId = chat.conversation!.id;
    now += 60_000;
    await ot.ingest(message([email('maya.patel@fastmail.com')], { channel: 'email', channelAccount: 'support@shop.test', text: 'Any news on order 4411?' }));
  });

  test('the admin signs in with the node\'s password; a wrong one is refused the same way as an unknown agent', async () => {
    const admin = await signIn(desk, 'ada', ADMIN_PASSWORD);
    const me = parse(await call(desk, admin, 'GET', 'me'));
    expect(me).toMatchObject({ agent: { id: 'ada', role: 'admin' }, workspace: ot.workspace });
    const wrong = await call(desk, {}, 'POST', 'signin', { agentId: 'ada', password: 'not the password' });
    const unknown = await call(desk, {}, 'POST', 'signin', { agentId: 'nobody', password: 'not the password' });
    expect([wrong.status, unknown.status]).toEqual([401, 401]);
    expect(parse(wrong).error).toBe(parse(unknown).error);
    // The cookie: HttpOnly, SameSite=Strict, scoped to the desk's path; only the token's hash is stored.
    const r = await call(desk, {}, 'POST', 'signin', { agentId: 'ada', password: ADMIN_PASSWORD });
    expect(String(r.headers['Set-Cookie'])).toMatch(/^omnithread_desk=[A-Za-z0-9_-]{43}; Path=\/omnithread\/desk; Max-Age=43200; HttpOnly; SameSite=Strict$/);
    const token = cookieOf(r).split('=')[1];
    // Looked up as if the cookie's token were its hash: nothing (only SHA-256 hashes are stored).
    expect(await ot.deskData().liveSession(token)).toBeUndefined();
  });

  test('sign-in is rate-limited per agent: after 10 failures even the right password gets 429 with Retry-After', async () => {
    for (let i = 0; i < 10; i++) expect((await call(desk, {}, 'POST', 'signin', { agentId: 'ada', password: `guess-number-${i}` })).status).toBe(401);
    const limited = await call(desk, {}, 'POST', 'signin', { agentId: 'ada', password: ADMIN_PASSWORD });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['Retry-After'])).toBeGreaterThan(0);
    now += 16 * 60_000;
    expect((await call(desk, {}, 'POST', 'signin', { agentId: 'ada', password: ADMIN_PASSWORD })).status).toBe(200);
  }, 60_000);

  test('a sign-in link works once, expires, and sessions end after 12 hours', async () => {
    const admin = await signIn(desk, 'ada', ADMIN_PASSWORD);
    const granted = await call(desk, admin, 'POST', 'agent-access', { agentId: 'ben', role: 'agent' });
    expect(parse(granted)).toMatchObject({ id: 'ben', role: 'agent', hasPassword: false });
    const link = parse(await call(desk, admin, 'POST', 'agent-link', { agentId: 'ben', hours: 1 }));
    expect(String(link.url)).toBe(`${BASE}#signin=${link.token}`);
    const used = await call(desk, {}, 'POST', 'signin-link', { token: link.token });
    expect(used.status).toBe(200);
    expect(parse(used)).toMatchObject({ agent: { id: 'ben', role: 'agent' } });
    expect((await call(desk, {}, 'POST', 'signin-link', { token: link.token })).status).toBe(401);
    const late = parse(await call(desk, admin, 'POST', 'agent-link', { agentId: 'ben', hours: 1 }));
    now += 61 * 60_000;
    expect((await call(desk, {}, 'POST', 'signin-link', { token: late.token })).status).toBe(401);
    const ben = { cookie: cookieOf(used) };
    expect((await call(desk, ben, 'GET', 'me')).status).toBe(200);
    now += 12 * 3600_000;
    expect((await call(desk, ben, 'GET', 'me')).status).toBe(401);
  });

  test('no session, a forged cookie, a missing or wrong CSRF token, another site: every write refused, nothing written', async () => {
    const admin = await signIn(desk, 'ada', ADMIN_PASSWORD);
    await call(desk, admin, 'POST', 'agent-access', { agentId: 'ben', role: 'agent' });
    const suggestion = await ot.ingest(message([phone('+447700900123'), email('maya.patel@fastmail.com', 'asserted')], { channel: 'sms', channelAccount: '+441234' }));
    const before = await fingerprint(ot, maya);
    const bodies: Record<string, unknown> = {
      reply: { contactId: maya, text: 'hi', clientId: 'client-0001' },
      note: { contactId: maya, text: 'n', clientId: 'client-0002' },
      assign: { conversationId },
      accept: { conversationId },
      release: { conversationId },
      transfer: { conversationId, queue: 'billing', reason: 'r' },
      resolve: { conversationId },
      csat: { conversationId },
      'merge-accept': { suggestionId: 'x' },
      'merge-dismiss': { suggestionId: 'x' },
      unmerge: { mergeId: 'x' },
      'agent-access': { agentId: 'cleo', role: 'admin', password: 'attacker-password' },
      'agent-link': { agentId: 'ben' },
      'agent-revoke': { agentId: 'ben' },
      signout: {},
    };
    const forged = { cookie: 'omnithread_desk=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', csrf: 'x' };
    const statuses: Record<string, number[]> = {};
    for (const [op, body] of Object.entries(bodies)) {
      statuses[op] = [
        (await call(desk, {}, 'POST', op, body)).status,
        (await call(desk, forged, 'POST', op, body)).status,
        (await call(desk, { cookie: admin.cookie }, 'POST', op, body)).status,
        (await call(desk, { cookie: admin.cookie, csrf: 'wrong-token' }, 'POST', op, body)).status,
        (await call(desk, admin, 'POST', op, body, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' })).status,
        (await call(desk, admin, 'POST', op, body, { origin: 'https://evil.example', 'sec-fetch-site': '' })).status,
        (await call(desk, admin, 'POST', op, body, { 'content-type': 'text/plain' })).status,
      ];
    }
    for (const op of Object.keys(bodies)) expect([op, statuses[op]]).toEqual([op, [401, 401, 403, 403, 403, 403, 400]]);
    for (const op of ['me', 'inbox', 'person', 'changes', 'metrics', 'agents']) {
      expect([op, (await call(desk, {}, 'GET', op, undefined, {}, `&contactId=${maya}`)).status]).toEqual([op, 401]);
      expect([op, (await call(desk, forged, 'GET', op, undefined, {}, `&contactId=${maya}`)).status]).toEqual([op, 401]);
    }
    expect(await fingerprint(ot, maya)).toBe(before);
    expect(suggestion.contact.id).toBeTruthy();
  });

  test("another workspace's desk knows neither the session nor the ids", async () => {
    const other = ctx().omnithread({ clock: () => now });
    const otherDesk = createDesk({ omnithread: async () => other, reply: { channels: {} }, admin: { agentId: 'ada', password: 'another admin password' } });
    const admin = await signIn(desk, 'ada', ADMIN_PASSWORD);
    expect((await call(otherDesk, admin, 'GET', 'me')).status).toBe(401);
    const otherAdmin = await signIn(otherDesk, 'ada', 'another admin password');
    expect((await call(otherDesk, otherAdmin, 'GET', 'person', undefined, {}, `&contactId=${maya}`)).status).toBe(404);
    for (const [op, body] of Object.entries({ assign: { conversationId }, resolve: { conversationId }, note: { contactId: maya, text: 'x', clientId: 'client-xws1' } })) {
      expect([op, (await call(otherDesk, otherAdmin, 'POST', op, body)).status]).toEqual([op, 404]);
    }
    expect((await ot.timeline(maya)).events.filter((e) => e.kind === 'note' || e.kind === 'assignment')).toHaveLength(0);
  });

  test('roles: an agent sees unassigned, their own and the AI\'s conversations, not another agent\'s, and no admin panel', async () => {
    const admin = await signIn(desk, 'ada', ADMIN_PASSWORD);
    await call(desk, admin, 'POST', 'agent-access', { agentId: 'ben', role: 'agent', password: 'ben-password-1' });
    await call(desk, admin, 'POST', 'agent-access', { agentId: 'cleo', role: 'agent', password: 'cleo-password-1' });
    const ben = await signIn(desk, 'ben', 'ben-password-1');
    const cleo = await signIn(desk, 'cleo', 'cleo-password-1');
    expect((await call(desk, ben, 'GET', 'agents')).status).toBe(403);
    expect((await call(desk, ben, 'POST', 'agent-access', { agentId: 'ben', role: 'admin' })).status).toBe(403);
    expect((await call(desk, ben, 'POST', 'assign', { conversationId })).status).toBe(200);
    expect((await call(desk, cleo, 'GET', 'person', undefined, {}, `&contactId=${maya}`)).status).toBe(403);
    expect((await call(desk, cleo, 'POST', 'note', { contactId: maya, text: 'sneaky', clientId: 'client-cleo1' })).status).toBe(403);
    expect((await call(desk, cleo, 'POST', 'assign', { conversationId })).status).toBe(403);
    expect((await call(desk, admin, 'GET', 'person', undefined, {}, `&contactId=${maya}`)).status).toBe(200);
    const mine = parse(await call(desk, ben, 'GET', 'inbox', undefined, {}, '&queue=mine'));
    expect((mine.items as Json[]).map((i) => i.conversationId)).toEqual([conversationId]);
    expect(parse(await call(desk, cleo, 'GET', 'inbox', undefined, {}, '&queue=open')).items).toEqual([]);
  });

  test('inbox, person and the agent\'s actions, each on the timeline with the agent\'s id', async () => {
    const admin = await signIn(desk, 'ada', ADMIN_PASSWORD);
    now += 5 * 60_000;
    const inbox = parse(await call(desk, admin, 'GET', 'inbox', undefined, {}, '&queue=waiting'));
    expect(inbox.counts).toEqual({ waiting: 1, mine: 0, open: 1, resolved: 0 });
    const [row] = inbox.items as Json[];
    expect(row).toMatchObject({ conversationId, contactId: maya, name: 'Maya Patel', channels: ['webchat', 'email'], lastMessage: { text: 'Any news on order 4411?', direction: 'inbound', channel: 'email' }, waitingSince: '2026-11-30T09:00:00.000Z', slaBreached: false });
    expect(parse(await call(desk, admin, 'GET', 'inbox', undefined, {}, '&queue=open&q=MAYA.PATEL%40FASTMAIL')).counts).toMatchObject({ open: 1 });
    expect(parse(await call(desk, admin, 'GET', 'inbox', undefined, {}, '&queue=open&q=nobody')).counts).toMatchObject({ open: 0 });

    const person = parse(await call(desk, admin, 'GET', 'person', undefined, {}, `&contactId=${maya}`));
    const [episode] = person.episodes as { events: Json[] }[];
    expect(episode.events.map((e) => e.kind)).toEqual(['message', 'channel_switch', 'message']);
    expect((person.identities as Json[]).map((i) => i.kind).sort()).toEqual(['email', 'webchat_visitor']);
    expect((person.channels as Json[]).find((c) => c.channel === 'webchat')).toMatchObject({ open: true });
    expect((person.channels as Json[]).find((c) => c.channel === 'email')).toMatchObject({ open: false });

    // Reply on web chat, twice with the same clientId (a retry after a network error): one message.
    const first = parse(await call(desk, admin, 'POST', 'reply', { contactId: maya, channel: 'webchat', text: 'It ships today, Maya.', clientId: 'client-reply-1' }));
    const again = parse(await call(desk, admin, 'POST', 'reply', { contactId: maya, channel: 'webchat', text: 'It ships today, Maya.', clientId: 'client-reply-1' }));
    expect([first.duplicate, again.duplicate, first.error]).toEqual([false, true, undefined]);
    const since = Number(parse(await call(desk, admin, 'GET', 'changes', undefined, {}, '&since=0')).seq);
    const waiting = call(desk, admin, 'GET', 'changes', undefined, {}, `&since=${since}&wait=10`);
    await call(desk, admin, 'POST', 'note', { contactId: maya, conversationId, text: 'Refund if it slips again', clientId: 'client-note-1' });
    const changed = parse(await waiting);
    expect(changed.contactIds).toEqual([maya]);
    // Offered to Ben, it is his to accept; put in the shipping queue, anyone may take it.
    expect((await call(desk, admin, 'POST', 'transfer', { conversationId, toAgentId: 'ben', reason: 'Ben handles shipping' })).status).toBe(200);
    const taken = await call(desk, admin, 'POST', 'accept', { conversationId });
    expect([taken.status, parse(taken).code]).toEqual([409, 'CONFLICT']);
    expect((await call(desk, admin, 'POST', 'transfer', { conversationId, queue: 'shipping', reason: 'Ben is away' })).status).toBe(200);
    expect((await call(desk, admin, 'POST', 'accept', { conversationId })).status).toBe(200);
    expect((await call(desk, admin, 'POST', 'resolve', { conversationId })).status).toBe(200);

    const events = (await ot.timeline(maya, { limit: 100 })).events;
    const outbound = events.filter((e) => e.kind === 'message' && e.direction === 'outbound');
    expect(outbound).toHaveLength(1);
    expect(outbound[0].data.author).toEqual({ id: 'ada', name: 'Ada', type: 'human' });
    const byAgent = events.filter((e) => (e.data.author as Json | undefined)?.id === 'ada' || e.data.agentId === 'ada' || e.data.from === 'ada').map((e) => e.kind);
    expect(byAgent).toEqual(expect.arrayContaining(['message', 'assignment', 'note', 'handoff', 'handoff_accepted', 'handoff_resolved', 'status_change']));
    const resolved = parse(await call(desk, admin, 'GET', 'inbox', undefined, {}, '&queue=resolved'));
    expect(resolved.counts).toMatchObject({ waiting: 0, open: 0, resolved: 1 });
  });

  test('merge suggestions are accepted and unmerged from the desk, logged as the agent', async () => {
    const admin = await signIn(desk, 'ada', ADMIN_PASSWORD);
    const sms = await ot.ingest(message([phone('+447700900123'), email('maya.patel@fastmail.com', 'asserted')], { channel: 'sms', channelAccount: '+441234', text: 'Is this Maya?' }));
    const person = parse(await call(desk, admin, 'GET', 'person', undefined, {}, `&contactId=${maya}`));
    const suggestions = person.suggestions as Json[];
    if (sms.contact.id === maya) return; // the rules linked them outright: nothing to suggest
    expect(suggestions).toHaveLength(1);
    const merged = parse(await call(desk, admin, 'POST', 'merge-accept', { suggestionId: suggestions[0].id }));
    expect(merged.actor).toBe('desk:ada');
    const after = parse(await call(desk, admin, 'GET', 'person', undefined, {}, `&contactId=${maya}`));
    expect((after.identities as Json[]).some((i) => i.kind === 'phone' && String(i.explanation).includes('merged'))).toBe(true);
    const undone = parse(await call(desk, admin, 'POST', 'unmerge', { mergeId: merged.id }));
    expect(undone.undoneBy).toBe('desk:ada');
    expect((await ot.getContact(sms.contact.id)).mergedInto).toBeNull();
  });

  test("the inbox shows AI Route's priority and intent, and the SLA turns red when the wait passes it", async () => {
    const admin = await signIn(desk, 'ada', ADMIN_PASSWORD);
    await ot.setContactAttributes(maya, { vip: true });
    const decision = await runRoute(ot, { contactId: maya, text: 'This is the third time, my refund never came, I want to talk to a human NOW', channel: 'email' });
    now += 61 * 60_000;
    const [row] = parse(await call(desk, admin, 'GET', 'inbox', undefined, {}, '&queue=open')).items as Json[];
    expect(decision.priority).not.toBe('normal');
    expect(row).toMatchObject({ intent: decision.classification.intent, priority: decision.priority, slaBreached: true, slaDueAt: '2026-11-30T10:00:00.000Z' });
    expect(row.intent).toEqual(expect.any(String));
  });

  test('a CSAT request from the desk, answered "5" after the resolve: a csat event in that conversation, which the metrics count, and no new conversation', async () => {
    const admin = await signIn(desk, 'ada', ADMIN_PASSWORD);
    await call(desk, admin, 'POST', 'reply', { contactId: maya, channel: 'webchat', text: 'Refunded today.', clientId: 'client-reply-csat' });
    expect((await call(desk, admin, 'POST', 'resolve', { conversationId })).status).toBe(200);
    const asked = parse(await call(desk, admin, 'POST', 'csat', { conversationId }));
    expect(asked).toMatchObject({ channel: 'webchat', duplicate: false });
    expect((await call(desk, admin, 'POST', 'csat', { conversationId })).status).toBe(200);
    now += 10 * 60_000;
    const answer = await ot.ingest(message([scoped('webchat_visitor', 'shop', 'v-1')], { channel: 'webchat', channelAccount: 'shop', text: ' 5/5 ⭐ ' }));
    expect(answer.conversation?.id).toBe(conversationId);
    const notAScore = await ot.ingest(message([scoped('webchat_visitor', 'shop', 'v-1')], { channel: 'webchat', channelAccount: 'shop', text: '5 stars but the box was wet' }));
    expect(notAScore.conversation?.id).not.toBe(conversationId);
    const events = (await ot.timeline(maya, { conversationId, limit: 100 })).events;
    expect(events.filter((e) => e.kind === 'csat_requested')).toHaveLength(1);
    expect(events.filter((e) => e.kind === 'csat').map((e) => e.data)).toEqual([expect.objectContaining({ score: 5, scale: 5, messageEventId: answer.event!.id })]);
    const report = await ot.metrics({ from: '2026-11-30T00:00:00Z', to: '2026-12-01T00:00:00Z' });
    expect(report.totals.csat).toMatchObject({ responses: 1, average: 5 });
    const waiting = parse(await call(desk, admin, 'GET', 'inbox', undefined, {}, '&queue=waiting'));
    expect((waiting.items as Json[]).map((i) => i.conversationId)).toEqual([notAScore.conversation?.id]);
  });
  test("WhatsApp's 24-hour window on the person page, also when the WhatsApp message is older than the page of events", async () => {
    const waDesk = createDesk({ omnithread: async () => ot, reply: { channels: { whatsapp: { accessToken: 't', phoneNumberId: 'pn1' } } }, admin: { agentId: 'ada', password: ADMIN_PASSWORD } });
    let admin = await signIn(waDesk, 'ada', ADMIN_PASSWORD);
    const wa = [phone('+447911123456'), scoped('whatsapp_id', 'waba', '447911123456'), email('maya.patel@fastmail.com', 'verified')];
    await ot.ingest(message(wa, { channel: 'whatsapp', channelAccount: 'pn1', text: 'On WhatsApp now' }));
    const whatsapp = async () => {
      const person = parse(await call(waDesk, admin, 'GET', 'person', undefined, {}, `&contactId=${maya}`));
      return ((person.channels ?? [person]) as Json[]).find((c) => c.channel === 'whatsapp' || c.error);
    };
    expect(await whatsapp()).toMatchObject({ open: true, closesAt: new Date(now + 24 * 3600_000).toISOString() });
    // 310 web chat messages in the next two hours: the WhatsApp message falls off the first page (300 events).
    for (let i = 0; i < 310; i++) {
      now += 20_000;
      await ot.ingest(message([scoped('webchat_visitor', 'shop', 'v-1')], { channel: 'webchat', channelAccount: 'shop', text: `chat ${i}` }));
    }
    expect(await whatsapp()).toMatchObject({ open: true });
    now += 23 * 3600_000;
    admin = await signIn(waDesk, 'ada', ADMIN_PASSWORD); // a session lasts 12 hours
    expect(await whatsapp()).toMatchObject({ open: false, reason: expect.stringContaining('24-hour window') });
  }, 60_000);
});

test('what counts as a bare CSAT score', () => {
  const scores = ['5', ' 4/5 ', '3 out of 5', '2 of 5', '5!', '4 ⭐', '1.', '5 ★★★★★'].map(csatScoreOf);
  expect(scores).toEqual([5, 4, 3, 2, 5, 4, 1, 5]);
  for (const text of ['0', '6', '10', '4/10', '5 stars but the box was wet', 'order 5', '', '5551234']) expect([text, csatScoreOf(text)]).toEqual([text, undefined]);
});
