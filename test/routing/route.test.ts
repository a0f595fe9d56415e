import { OmnithreadError } from '../../shared';
import type { Omnithread } from '../../shared/omnithread';
import type { Classification } from '../../shared/routing/types';
import { ROUTE_STEPS } from '../../shared/routing/types';
import { RouteInput, RouteOptions, normaliseWords, routeMessage, textSimilarity } from '../../shared/routing/route';
import { describeStores } from '../support/stores';
import { account, message } from '../support/messages';

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

function cls(overrides: Partial<Classification> = {}): Classification {
  return { intent: 'billing', language: 'en', sentiment: 'neutral', urgency: 'normal', confidence: 0.9, wantsHuman: false, source: 'rules', reasons: ['test'], ...overrides };
}

describe('route: similarity', () => {
  test('normalised words drop filler, case and accents, in any script', () => {
    expect(normaliseWords('Hi, how do I RESET my password? Thanks!')).toEqual(['reset', 'password']);
    expect(normaliseWords('Café Ünïcode')).toEqual(['cafe', 'unicode']);
    expect(normaliseWords('パスワード リセット')).toEqual(['パスワード', 'リセット']);
  });

  test('the same question in other words is alike; a different one is not', () => {
    expect(textSimilarity('How do I reset my password?', 'hello, how can I reset my password please')).toBe(1);
    expect(textSimilarity('How do I reset my password?', 'Where is my parcel?')).toBe(0);
    expect(textSimilarity('', 'anything')).toBe(0);
  });
});

describeStores('route', (ctx) => {
  const start = Date.parse('2026-11-10T09:00:00Z');

  function setup() {
    let now = start;
    const ot = ctx().omnithread({ clock: () => now });
    return { ot, advance: (ms: number) => (now += ms), at: () => now };
  }

  async function roster(ot: Omnithread) {
    await ot.roster().import([
      { id: 'anna', kind: 'human', skills: { billing: 4 }, languages: ['en', 'de'] },
      { id: 'ben', kind: 'human', skills: { billing: 3 }, languages: ['en'] },
      { id: 'bot', kind: 'ai', skills: { billing: 5 }, languages: ['en'], capacity: 1000, channelCosts: { email: 1, webchat: 1, whatsapp: 1 }, aiConfidenceThreshold: 0.8 },
    ]);
  }

  /** An inbound message from a customer known by an account id, on a channel; returns ids for routing. */
  async function inbound(ot: Omnithread, customer: string, channel: string, text: string) {
    const result = await ot.ingest(message([account(customer)], { channel, text }));
    return { contactId: result.contact.id, conversationId: result.conversation.id, eventId: result.event!.id };
  }

  const route = (ot: Omnithread, msg: { contactId: string; eventId: string }, channel: string, text: string, classification: Classification, options: RouteOptions = {}) =>
    routeMessage(ot, { contactId: msg.contactId, eventId: msg.eventId, channel, text, classification } as RouteInput, options);

  /** Yesterday on WhatsApp: handled by anna, who replied; then resolved. */
  async function handledYesterdayOnWhatsApp(ot: Omnithread, advance: (ms: number) => number, customer: string) {
    const first = await inbound(ot, customer, 'whatsapp', 'My invoice shows the wrong VAT number');
    await ot.assignConversation(first.conversationId, 'anna');
    await ot.recordOutbound(first.contactId, { channel: 'whatsapp', text: 'Fixed, a corrected invoice is on its way.', author: { id: 'anna', type: 'human' } });
    await ot.resolveConversation(first.conversationId);
    advance(DAY);
    return first;
  }

  test('a customer handled by agent A on WhatsApp yesterday who now emails goes to A', async () => {
    const { ot, advance } = setup();
    await roster(ot);
    await handledYesterdayOnWhatsApp(ot, advance, 'cust-known');
    // ben is less loaded than anna; known-agent routing still prefers anna.
    const other = await inbound(ot, 'someone-else', 'webchat', 'hello');
    await ot.assignConversation(other.conversationId, 'anna');
    const mail = await inbound(ot, 'cust-known', 'email', 'Another question about my bill from March');
    const decision = await route(ot, mail, 'email', 'Another question about my bill from March', cls());
    expect(decision.target).toEqual({ kind: 'human', agentId: 'anna' });
    expect(decision.step).toBe('known_agent');
    expect(decision.assigned).toBe(true);
    expect(decision.conversationId).toBe(mail.conversationId);
    expect(decision.reason).toMatch(/anna handled this person before/);
    expect(decision.alternatives).toEqual(expect.arrayContaining([expect.objectContaining({ agentId: 'ben', reason: 'known agent preferred' })]));
    const conversations = await ot.routingContext(mail.contactId);
    expect(conversations.conversations.find((c) => c.id === mail.conversationId)?.assignedAgentId).toBe('anna');
  });

  test('known agent offline -> a qualified other agent; full -> the same', async () => {
    const { ot, advance } = setup();
    await roster(ot);
    await handledYesterdayOnWhatsApp(ot, advance, 'cust-offline');
    await ot.roster().setStatus('anna', 'offline');
    const mail = await inbound(ot, 'cust-offline', 'email', 'Why was I charged twice?');
    const decision = await route(ot, mail, 'email', 'Why was I charged twice?', cls({ confidence: 0.75 }));
    expect(decision.target).toEqual({ kind: 'human', agentId: 'ben' });
    expect(decision.step).toBe('skills');
    expect(decision.alternatives).toEqual(
      expect.arrayContaining([
        { agentId: 'anna', reason: 'known agent, but offline', share: 0 },
        expect.objectContaining({ agentId: 'bot', reason: expect.stringMatching(/AI excluded: confidence 0.75 below its threshold 0.80/) }),
      ]),
    );
    expect(decision.steps.map((s) => [s.step, s.outcome])).toEqual([
      ['answer_from_history', 'no_match'],
      ['known_agent', 'no_match'],
      ['skills', 'chosen'],
      ['priority', 'applied'],
    ]);

    // Full: anna is back but has no room for one more email.
    const { ot: ot2, advance: advance2 } = setup();
    await roster(ot2);
    await ot2.roster().upsert({ id: 'anna', kind: 'human', skills: { billing: 4 }, languages: ['en'], capacity: 20 });
    await handledYesterdayOnWhatsApp(ot2, advance2, 'cust-full');
    for (const who of ['x1', 'x2']) {
      const busy = await inbound(ot2, who, 'email', 'something');
      await ot2.assignConversation(busy.conversationId, 'anna');
    }
    const mail2 = await inbound(ot2, 'cust-full', 'email', 'Why was I charged twice?');
    const decision2 = await route(ot2, mail2, 'email', 'Why was I charged twice?', cls({ wantsHuman: true }));
    expect(decision2.target).toEqual({ kind: 'human', agentId: 'ben' });
    expect(decision2.alternatives).toEqual(expect.arrayContaining([{ agentId: 'anna', reason: 'known agent, but full (share 1.00)', share: 1 }]));
    const loads = await ot2.roster().loads();
    for (const load of loads) expect(load.used).toBeLessThanOrEqual(load.capacity);
  });

  test('an email asking a question answered last week on chat gets the earlier answer', async () => {
    const { ot, advance } = setup();
    await roster(ot);
    const chat = await inbound(ot, 'cust-faq', 'webchat', 'How do I reset my password?');
    await ot.recordOutbound(chat.contactId, { channel: 'webchat', text: 'Settings > Security > Reset password.', author: { id: 'bot', type: 'ai' } });
    await ot.resolveConversation(chat.conversationId);
    advance(7 * DAY);
    const text = 'Hello, how can I reset my password please?';
    const mail = await inbound(ot, 'cust-faq', 'email', text);
    const decision = await route(ot, mail, 'email', text, cls({ intent: 'account' }));
    expect(decision.target).toEqual({ kind: 'answer' });
    expect(decision.step).toBe('answer_from_history');
    expect(decision.answer).toMatchObject({ text: 'Settings > Security > Reset password.', channel: 'webchat' });
    expect(decision.assigned).toBe(false);
    expect(decision.confidence).toBe(1);
    const again = await ot.routingContext(mail.contactId);
    expect(again.conversations.find((c) => c.id === mail.conversationId)?.assignedAgentId).toBeNull();

    // Too old, or asking for a human: no replayed answer.
    const old = await route(ot, mail, 'email', text, cls({ intent: 'account' }), { answerFromHistory: { maxAgeDays: 3 } });
    expect(old.duplicate).toBe(true); // same message: the first decision stands
    const mail2 = await inbound(ot, 'cust-faq', 'email', text);
    const human = await route(ot, mail2, 'email', text, cls({ intent: 'account', wantsHuman: true }));
    expect(human.target.kind).toBe('human');
    expect(human.steps[0]).toEqual({ step: 'answer_from_history', outcome: 'skipped', reason: 'the customer asked for a human' });
    const mail3 = await inbound(ot, 'cust-faq', 'email', 'Different: where is my parcel?');
    const tooOld = await route(ot, mail3, 'email', text, cls({ intent: 'account' }), { answerFromHistory: { maxAgeDays: 3 } });
    expect(tooOld.target.kind).not.toBe('answer');
  });

  test('negative sentiment or an explicit request for a human never goes to an AI agent', async () => {
    const { ot } = setup();
    await roster(ot);
    const calm = await inbound(ot, 'c-calm', 'webchat', 'Can I pay by invoice?');
    const toBot = await route(ot, calm, 'webchat', 'Can I pay by invoice?', cls());
    expect(toBot.target).toEqual({ kind: 'ai', agentId: 'bot' });

    const angry = await inbound(ot, 'c-angry', 'webchat', 'This billing is a scam!!');
    const d1 = await route(ot, angry, 'webchat', 'This billing is a scam!!', cls({ sentiment: 'negative' }));
    expect(d1.target.kind).toBe('human');
    expect(d1.alternatives).toEqual(expect.arrayContaining([expect.objectContaining({ agentId: 'bot', reason: 'AI excluded: negative sentiment' })]));
    expect(d1.priority).toBe('high');

    const wants = await inbound(ot, 'c-human', 'webchat', 'agent please, billing');
    const d2 = await route(ot, wants, 'webchat', 'agent please, billing', cls({ wantsHuman: true }));
    expect(d2.target.kind).toBe('human');
    expect(d2.alternatives).toEqual(expect.arrayContaining([expect.objectContaining({ agentId: 'bot', reason: 'AI excluded: wants a human' })]));

    const noAi = await inbound(ot, 'c-noai', 'webchat', 'billing question');
    const d3 = await route(ot, noAi, 'webchat', 'billing question', cls(), { aiAgents: false });
    expect(d3.target.kind).toBe('human');
  });

  test('an AI agent below its confidence threshold is passed over; the workspace default applies without one', async () => {
    const { ot } = setup();
    await roster(ot);
    await ot.roster().upsert({ id: 'bot2', kind: 'ai', skills: { billing: 5 }, capacity: 1000, channelCosts: { webchat: 1 } });
    const m = await inbound(ot, 'c-unsure', 'webchat', 'hmm billing maybe');
    const d = await route(ot, m, 'webchat', 'hmm billing maybe', cls({ confidence: 0.75 }), { aiConfidenceThreshold: 0.7 });
    // bot's own threshold is 0.8: passed over; bot2 has none: the default 0.7 lets it take it.
    expect(d.target).toEqual({ kind: 'ai', agentId: 'bot2' });
    expect(d.alternatives).toEqual(expect.arrayContaining([expect.objectContaining({ agentId: 'bot', reason: expect.stringMatching(/^AI excluded: confidence/) })]));
    const m2 = await inbound(ot, 'c-unsure2', 'webchat', 'hmm billing maybe');
    const d2 = await route(ot, m2, 'webchat', 'hmm billing maybe', cls({ confidence: 0.5 }));
    expect(d2.target.kind).toBe('human');
  });

  test('skills and language: least loaded qualified, ties by level then id; unqualified agents say why', async () => {
    const { ot } = setup();
    await ot.roster().import([
      { id: 'de-only', skills: { billing: 5 }, languages: ['de'] },
      { id: 'no-skill', skills: { shipping: 5 }, languages: ['en'] },
      { id: 'low', skills: { billing: 2 }, languages: ['en'] },
      { id: 'high', skills: { billing: 4 }, languages: ['en-gb'] },
      { id: 'voice-only', skills: { billing: 5 }, channels: ['voice'] },
      { id: 'away', skills: { billing: 5 }, status: 'away' },
    ]);
    const m = await inbound(ot, 'c-skill', 'email', 'invoice');
    const d = await route(ot, m, 'email', 'invoice', cls());
    expect(d.target).toEqual({ kind: 'human', agentId: 'high' });
    const reasons = Object.fromEntries(d.alternatives.map((a) => [a.agentId, a.reason]));
    expect(reasons).toEqual({
      'de-only': 'does not speak en',
      'no-skill': 'lacks skill billing',
      low: 'more loaded or less skilled (share 0.00)',
      'voice-only': 'does not work email',
      away: 'away',
    });
    // Configured skills per intent.
    const m2 = await inbound(ot, 'c-skill2', 'email', 'where is it');
    const d2 = await route(ot, m2, 'email', 'where is it', cls({ intent: 'tracking' }), { requiredSkills: { tracking: ['shipping'] } });
    expect(d2.target.agentId).toBe('no-skill');
    // Load wins over level: 'high' now has one email.
    const m3 = await inbound(ot, 'c-skill3', 'email', 'invoice again');
    const d3 = await route(ot, m3, 'email', 'invoice again', cls());
    expect(d3.target.agentId).toBe('low');
  });

  test('nobody available -> the queue; a VIP goes to the priority queue', async () => {
    const { ot, advance } = setup();
    await ot.roster().import([{ id: 'anna', skills: ['billing'], status: 'offline' }]);
    const m = await inbound(ot, 'c-queue', 'email', 'billing?');
    const d = await route(ot, m, 'email', 'billing?', cls());
    expect(d.target).toEqual({ kind: 'queue', queue: 'default' });
    expect(d.step).toBe('fallback_queue');
    expect(d.priority).toBe('normal');
    expect(d.assigned).toBe(false);
    expect(d.alternatives).toEqual([{ agentId: 'anna', reason: 'offline', share: 0 }]);

    const vip = await inbound(ot, 'c-vip', 'email', 'billing?');
    await ot.setContactAttributes(vip.contactId, { tier: 'Gold' });
    const dv = await route(ot, vip, 'email', 'billing?', cls(), { queue: 'support', vip: { attributes: { vip: true, tier: ['gold', 'platinum'] } } });
    expect(dv.target).toEqual({ kind: 'queue', queue: 'support-priority' });
    expect(dv.step).toBe('priority');
    expect(dv.priority).toBe('high');
    expect(dv.reason).toMatch(/VIP \(tier = "Gold"\)/);

    // Urgent: VIP and upset; a long wait also counts.
    advance(45 * 60 * 1000);
    const vip2 = await inbound(ot, 'c-vip', 'email', 'hello??');
    const du = await route(ot, vip2, 'email', 'hello??', cls({ sentiment: 'negative', urgency: 'high' }), { vip: { attributes: { tier: 'gold' } } });
    expect(du.priority).toBe('urgent');
    expect(du.steps.find((s) => s.step === 'priority')?.reason).toMatch(/waiting 45 min/);
  });

  test('the decision is on the timeline with alternatives and reasons; routing a message twice decides once', async () => {
    const { ot } = setup();
    await roster(ot);
    await ot.roster().setStatus('bot', 'offline');
    const m = await inbound(ot, 'c-timeline', 'email', 'billing');
    const d = await route(ot, m, 'email', 'billing', cls());
    expect(d.eventId).toBeDefined();
    const page = await ot.timeline(m.contactId, { kinds: ['route_decision'] });
    expect(page.events).toHaveLength(1);
    const event = page.events[0];
    expect(event.id).toBe(d.eventId);
    expect(event.conversationId).toBe(m.conversationId);
    expect(event.channel).toBe('email');
    expect(event.text).toMatch(/^human (anna|ben) \(skills\): /);
    expect(event.data).toMatchObject({ messageEventId: m.eventId, assigned: true });
    const stored = (event.data as { decision: typeof d }).decision;
    expect(stored.target).toEqual(d.target);
    expect(stored.alternatives).toEqual(d.alternatives);
    expect(stored.alternatives.map((a) => a.reason)).toEqual(expect.arrayContaining(['offline']));
    expect(stored.steps.map((s) => s.step)).toEqual(ROUTE_STEPS.filter((s) => s !== 'fallback_queue'));
    expect(stored.classification.intent).toBe('billing');

    const again = await route(ot, m, 'email', 'billing', cls());
    expect(again.duplicate).toBe(true);
    expect(again.eventId).toBe(d.eventId);
    expect(again.target).toEqual(d.target);
    expect((await ot.timeline(m.contactId, { kinds: ['route_decision'] })).events).toHaveLength(1);
    const loads = await ot.roster().loads();
    expect(loads.reduce((n, l) => n + l.openConversations, 0)).toBe(1);
  });

  test('re-routing an assigned conversation does not count it twice against its agent', async () => {
    const { ot } = setup();
    await ot.roster().upsert({ id: 'solo', skills: ['billing'], capacity: 10 });
    const m = await inbound(ot, 'c-re', 'email', 'billing');
    expect((await route(ot, m, 'email', 'billing', cls())).target.agentId).toBe('solo');
    const m2 = await inbound(ot, 'c-re', 'email', 'billing, more');
    const d2 = await route(ot, m2, 'email', 'billing, more', cls());
    expect(d2.target.agentId).toBe('solo');
    expect(d2.step).toBe('known_agent');
  });

  test('invalid input and options are refused, naming the field', async () => {
    const { ot } = setup();
    const m = await inbound(ot, 'c-bad', 'email', 'x');
    const e1 = await routeMessage(ot, { contactId: m.contactId, channel: 'email', text: 'x', classification: cls() }, { queue: '' }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(OmnithreadError);
    expect((e1 as OmnithreadError).code).toBe('INVALID_INPUT');
    const e2 = await routeMessage(ot, { contactId: m.contactId, channel: 'Email!', text: 'x', classification: cls() }).catch((e: unknown) => e);
    expect((e2 as OmnithreadError).code).toBe('INVALID_INPUT');
    const e3 = await routeMessage(ot, { contactId: 'ct_nobody', channel: 'email', text: 'x', classification: cls() }).catch((e: unknown) => e);
    expect((e3 as OmnithreadError).code).toBe('NOT_FOUND');
  });
});
