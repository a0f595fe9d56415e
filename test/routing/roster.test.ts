import { DEFAULT_CHANNEL_COSTS, OmnithreadError, channelCost, loadOf } from '../../shared';
import { countRows, describeStores } from '../support/stores';
import { email, message } from '../support/messages';

async function expectError(promise: Promise<unknown>, code: OmnithreadError['code'], field?: string | RegExp): Promise<OmnithreadError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OmnithreadError);
  const err = error as OmnithreadError;
  expect(err.code).toBe(code);
  if (typeof field === 'string') expect(err.field).toBe(field);
  else if (field) expect(err.field).toMatch(field);
  return err;
}

describe('roster: pure functions', () => {
  test('channel costs: defaults, overrides, unknown channels cost as generic', () => {
    expect(DEFAULT_CHANNEL_COSTS).toMatchObject({ voice: 100, webchat: 20, email: 10, generic: 20 });
    expect(channelCost({ channelCosts: {} }, 'voice')).toBe(100);
    expect(channelCost({ channelCosts: { voice: 50 } }, 'voice')).toBe(50);
    expect(channelCost({ channelCosts: {} }, 'pigeon')).toBe(20);
    expect(channelCost({ channelCosts: {} }, null)).toBe(20);
  });

  test('loadOf: used, share and canTake', () => {
    const agent = { capacity: 100, channelCosts: {} };
    const idle = loadOf(agent, []);
    expect(idle).toEqual({ used: 0, capacity: 100, share: 0 });
    expect(idle.canTake('voice')).toBe(true);
    const chats = loadOf(agent, [{ channel: 'webchat' }, { channel: 'whatsapp' }, { channel: 'email' }]);
    expect(chats).toEqual({ used: 50, capacity: 100, share: 0.5 });
    expect(chats.canTake('voice')).toBe(false);
    expect(chats.canTake('sms')).toBe(true);
    expect(JSON.parse(JSON.stringify(chats))).toEqual({ used: 50, capacity: 100, share: 0.5 });
  });
});

describeStores('roster', (ctx) => {
  const start = Date.parse('2026-11-02T09:00:00Z');
  function setup() {
    let now = start;
    const ot = ctx().omnithread({ clock: () => now });
    return { ot, advance: (ms: number) => (now += ms) };
  }

  test('upsert and get round trip, with defaults applied', async () => {
    const { ot } = setup();
    const agent = await ot.roster().upsert({ id: 'maya@shop.io', skills: ['Billing', 'returns'], languages: ['EN', 'pt_BR'] });
    expect(agent).toEqual({
      id: 'maya@shop.io',
      workspace: ot.workspace,
      name: 'maya@shop.io',
      kind: 'human',
      status: 'available',
      skills: { billing: 3, returns: 3 },
      languages: ['en', 'pt-br'],
      channels: [],
      capacity: 100,
      channelCosts: {},
      attributes: {},
      aiConfidenceThreshold: null,
      createdAt: '2026-11-02T09:00:00.000Z',
      updatedAt: '2026-11-02T09:00:00.000Z',
    });
    expect(await ot.roster().get('maya@shop.io')).toEqual(agent);
    expect(await ot.roster().get('nobody')).toBeUndefined();

    const bot = await ot.roster().upsert({
      id: 'bot:faq',
      name: 'FAQ bot',
      kind: 'ai',
      skills: { faq: 5, billing: 2 },
      channels: ['webchat', 'whatsapp'],
      capacity: 1000,
      channelCosts: { webchat: 1, whatsapp: 1 },
      attributes: { model: 'small', tier: 2 },
      aiConfidenceThreshold: 0.7,
    });
    expect(await ot.roster().get('bot:faq')).toEqual(bot);
    expect(bot).toMatchObject({ kind: 'ai', capacity: 1000, channelCosts: { webchat: 1, whatsapp: 1 }, aiConfidenceThreshold: 0.7, attributes: { model: 'small', tier: 2 } });
  });

  test('an update replaces the fields, keeps createdAt and moves updatedAt', async () => {
    const { ot, advance } = setup();
    const first = await ot.roster().upsert({ id: 'a1', name: 'Ann', skills: { billing: 2 } });
    advance(60_000);
    const second = await ot.roster().upsert({ id: 'a1', name: 'Ann B.', skills: { billing: 4 }, capacity: 50 });
    expect(second.createdAt).toBe(first.createdAt);
    expect(second.updatedAt).toBe('2026-11-02T09:01:00.000Z');
    expect(second).toMatchObject({ name: 'Ann B.', skills: { billing: 4 }, capacity: 50 });
    expect(await ot.roster().list()).toHaveLength(1);
  });

  test('list filters by status, kind, skill, language and channel', async () => {
    const { ot } = setup();
    const r = ot.roster();
    await r.upsert({ id: 'ann', skills: { billing: 4 }, languages: ['en-GB'], channels: ['email', 'voice'] });
    await r.upsert({ id: 'bob', status: 'away', skills: ['billing'], languages: ['de'] });
    await r.upsert({ id: 'cat', status: 'offline', skills: { returns: 5 }, languages: ['en', 'fr'], channels: ['webchat'] });
    await r.upsert({ id: 'bot', kind: 'ai', skills: { faq: 5 }, languages: ['en'], channels: ['webchat', 'whatsapp'] });
    const ids = async (filter: Parameters<typeof r.list>[0]) => (await r.list(filter)).map((a) => a.id);
    expect(await ids({})).toEqual(['ann', 'bob', 'bot', 'cat']);
    expect(await ids({ status: 'available' })).toEqual(['ann', 'bot']);
    expect(await ids({ kind: 'ai' })).toEqual(['bot']);
    expect(await ids({ kind: 'human', status: 'away' })).toEqual(['bob']);
    expect(await ids({ skill: 'Billing' })).toEqual(['ann', 'bob']);
    expect(await ids({ skill: 'billing', minLevel: 4 })).toEqual(['ann']);
    expect(await ids({ language: 'en' })).toEqual(['ann', 'bot', 'cat']);
    expect(await ids({ language: 'en-gb' })).toEqual(['ann', 'bot', 'cat']);
    expect(await ids({ language: 'fr' })).toEqual(['cat']);
    expect(await ids({ channel: 'webchat' })).toEqual(['bob', 'bot', 'cat']);
    expect(await ids({ channel: 'voice', language: 'en' })).toEqual(['ann']);
    await expectError(r.list({ status: 'busy' as never }), 'INVALID_INPUT', 'status');
  });

  test('setStatus and remove', async () => {
    const { ot, advance } = setup();
    await ot.roster().upsert({ id: 'ann' });
    advance(1000);
    const away = await ot.roster().setStatus('ann', 'away');
    expect(away).toMatchObject({ status: 'away', updatedAt: '2026-11-02T09:00:01.000Z', createdAt: '2026-11-02T09:00:00.000Z' });
    await expectError(ot.roster().setStatus('nobody', 'away'), 'NOT_FOUND');
    await expectError(ot.roster().setStatus('ann', 'busy' as never), 'INVALID_INPUT');
    expect(await ot.roster().remove('ann')).toBe(true);
    expect(await ot.roster().remove('ann')).toBe(false);
    expect(await ot.roster().get('ann')).toBeUndefined();
  });

  test('invalid input is INVALID_INPUT naming the field, and stores nothing', async () => {
    const { ot } = setup();
    const before = await countRows(ctx().store);
    await expectError(ot.roster().upsert({ id: 'has space' }), 'INVALID_INPUT', 'id');
    await expectError(ot.roster().upsert({ id: 'x'.repeat(129) }), 'INVALID_INPUT', 'id');
    await expectError(ot.roster().upsert({ id: 'a', capacity: 0 }), 'INVALID_INPUT', 'capacity');
    await expectError(ot.roster().upsert({ id: 'a', capacity: 1001 }), 'INVALID_INPUT', 'capacity');
    await expectError(ot.roster().upsert({ id: 'a', skills: { billing: 6 } }), 'INVALID_INPUT', /^skills/);
    await expectError(ot.roster().upsert({ id: 'a', languages: ['english!'] }), 'INVALID_INPUT', 'languages.0');
    await expectError(ot.roster().upsert({ id: 'a', channels: ['E Mail'] }), 'INVALID_INPUT', 'channels.0');
    await expectError(ot.roster().upsert({ id: 'a', kind: 'robot' as never }), 'INVALID_INPUT', 'kind');
    await expectError(ot.roster().upsert({ id: 'a', kind: 'ai', aiConfidenceThreshold: 1.5 }), 'INVALID_INPUT', 'aiConfidenceThreshold');
    await expectError(ot.roster().upsert({ id: 'a', aiConfidenceThreshold: 0.5 }), 'INVALID_INPUT', 'aiConfidenceThreshold');
    await expectError(ot.roster().upsert({ id: 'a', colour: 'red' } as never), 'INVALID_INPUT');
    expect(await countRows(ctx().store)).toEqual(before);
  });

  test('import validates every entry first: one bad entry stores nothing and is named by index and field', async () => {
    const { ot } = setup();
    const agents = [{ id: 'ann', skills: ['billing'] }, { id: 'bob', kind: 'ai' }, { id: 'cat', capacity: 5000 }];
    const err = await expectError(ot.roster().import(agents), 'INVALID_INPUT', '2.capacity');
    expect(err.message).toContain('2.capacity');
    await expectError(ot.roster().import({ agents }), 'INVALID_INPUT', '2.capacity');
    expect(await ot.roster().list()).toEqual([]);
    await expectError(ot.roster().import([{ id: 'ann' }, { id: 'ann' }]), 'INVALID_INPUT', '1.id');
    await expectError(ot.roster().import('not a roster'), 'INVALID_INPUT');
    expect(await ot.roster().list()).toEqual([]);

    agents[2].capacity = 500;
    const imported = await ot.roster().import({ agents });
    expect(imported.map((a) => [a.id, a.kind, a.capacity])).toEqual([
      ['ann', 'human', 100],
      ['bob', 'ai', 100],
      ['cat', 'human', 500],
    ]);
    expect((await ot.roster().list()).map((a) => a.id)).toEqual(['ann', 'bob', 'cat']);
  });

  test('loads come from open assigned conversations, costed by their last channel; resolving frees capacity', async () => {
    const { ot } = setup();
    await ot.roster().import([{ id: 'ann' }, { id: 'bob' }, { id: 'idle' }]);
    const call = await ot.ingest(message([email('caller@example.com')], { channel: 'voice' }));
    const mail1 = await ot.ingest(message([email('one@example.com')], { channel: 'email' }));
    const mail2 = await ot.ingest(message([email('two@example.com')], { channel: 'email' }));

    const assigned = await ot.assignConversation(call.conversation.id, 'ann');
    expect(assigned).toMatchObject({ id: call.conversation.id, assignedAgentId: 'ann', assignedAt: '2026-11-02T09:00:00.000Z', status: 'open' });
    await ot.assignConversation(mail1.conversation.id, 'bob');
    await ot.assignConversation(mail2.conversation.id, 'bob');

    const loads = await ot.roster().loads();
    expect(loads).toEqual([
      { agentId: 'ann', status: 'available', openConversations: 1, used: 100, capacity: 100, share: 1 },
      { agentId: 'bob', status: 'available', openConversations: 2, used: 20, capacity: 100, share: 0.2 },
      { agentId: 'idle', status: 'available', openConversations: 0, used: 0, capacity: 100, share: 0 },
    ]);
    const [ann, bob] = loads;
    expect(ann.canTake('email')).toBe(false);
    expect(bob.canTake('email')).toBe(true);
    expect(bob.canTake('voice')).toBe(false);
    expect((await ot.roster().loads(['bob', 'nobody'])).map((l) => l.agentId)).toEqual(['bob']);
    expect(await ot.roster().loads([])).toEqual([]);

    await ot.resolveConversation(call.conversation.id);
    const [annAfter] = await ot.roster().loads(['ann']);
    expect(annAfter).toMatchObject({ used: 0, share: 0, openConversations: 0 });
    expect(annAfter.canTake('voice')).toBe(true);

    // Reassigning moves the load; unassigning frees it.
    await ot.assignConversation(mail1.conversation.id, 'ann');
    expect((await ot.roster().loads(['ann', 'bob'])).map((l) => [l.agentId, l.used])).toEqual([
      ['ann', 10],
      ['bob', 10],
    ]);
    const unassigned = await ot.assignConversation(mail2.conversation.id, null);
    expect(unassigned).toMatchObject({ assignedAgentId: null, assignedAt: null });
    expect((await ot.roster().loads(['bob']))[0].used).toBe(0);
  });

  test('assignConversation: NOT_FOUND for an unknown conversation or agent, CONFLICT for a closed conversation', async () => {
    const { ot } = setup();
    await ot.roster().upsert({ id: 'ann' });
    const chat = await ot.ingest(message([email('x@example.com')], { channel: 'webchat' }));
    await expectError(ot.assignConversation('no-such-conversation', 'ann'), 'NOT_FOUND');
    await expectError(ot.assignConversation(chat.conversation.id, 'nobody'), 'NOT_FOUND');
    await expectError(ot.assignConversation(chat.conversation.id, 'bad id!'), 'INVALID_INPUT');
    await ot.resolveConversation(chat.conversation.id);
    await expectError(ot.assignConversation(chat.conversation.id, 'ann'), 'CONFLICT');
  });

  test('workspaces are isolated', async () => {
    const a = setup().ot;
    const b = setup().ot;
    await a.roster().upsert({ id: 'ann', name: 'Ann of A' });
    await b.roster().upsert({ id: 'ann', name: 'Ann of B', capacity: 10 });
    expect((await a.roster().get('ann'))!.name).toBe('Ann of A');
    expect((await b.roster().get('ann'))!.name).toBe('Ann of B');
    await b.roster().upsert({ id: 'only-b' });
    expect((await a.roster().list()).map((x) => x.id)).toEqual(['ann']);

    const chatA = await a.ingest(message([email('same@example.com')], { channel: 'webchat' }));
    await a.assignConversation(chatA.conversation.id, 'ann');
    // B can neither see A's conversation nor carry its load.
    await expectError(b.assignConversation(chatA.conversation.id, 'ann'), 'NOT_FOUND');
    expect((await a.roster().loads(['ann']))[0].used).toBe(20);
    expect((await b.roster().loads(['ann']))[0].used).toBe(0);
    await expectError(b.roster().setStatus('only-a', 'away'), 'NOT_FOUND');
    expect(await b.roster().remove('ann')).toBe(true);
    expect(await a.roster().get('ann')).toBeDefined();
  });
});
