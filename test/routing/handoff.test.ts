import { OmnithreadError } from '../../shared';
import type { Omnithread } from '../../shared';
import {
  acceptHandoff,
  channelWindows,
  escalateExpiredOffers,
  extractiveSummary,
  handOff,
  handoffState,
  releaseHandoff,
  resolveHandoff,
} from '../../shared/routing/handoff';
import type { Classification } from '../../shared/routing/types';
import { describeStores } from '../support/stores';
import { email, message, phone } from '../support/messages';

const HOUR = 3600_000;
const NOW = Date.parse('2026-11-24T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

async function expectError(promise: Promise<unknown>, code: OmnithreadError['code'], pattern?: RegExp): Promise<OmnithreadError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OmnithreadError);
  const err = error as OmnithreadError;
  expect(err.code).toBe(code);
  if (pattern) expect(err.message).toMatch(pattern);
  return err;
}

const billing: Classification = {
  intent: 'billing',
  language: 'en',
  sentiment: 'negative',
  urgency: 'high',
  confidence: 0.82,
  wantsHuman: true,
  source: 'rules',
  reasons: ['keyword "charged twice"'],
};

describe('handoff: pure parts', () => {
  test('extractive summary: first customer message and the latest ones, clipped', () => {
    const ev = (text: string, direction: 'inbound' | 'outbound', at: number, channel = 'webchat') =>
      ({ id: String(at), kind: 'message', text, direction, channel, occurredAt: iso(at), data: {} }) as never;
    const summary = extractiveSummary([
      ev('I was charged twice for order 1234', 'inbound', NOW - 5 * HOUR, 'email'),
      ev('Sorry! Let me check.', 'outbound', NOW - 4 * HOUR),
      ev('x'.repeat(1000), 'inbound', NOW - 3 * HOUR),
      ev('Still waiting for the refund', 'inbound', NOW - 2 * HOUR, 'whatsapp'),
    ]);
    expect(summary).toMatch(/first wrote \(email.*"I was charged twice for order 1234"/);
    expect(summary).toMatch(/Latest: .*"Still waiting for the refund" \(whatsapp\)/);
    expect(summary).toMatch(/x{100,}…/);
    expect(summary).not.toMatch(/x{300}/);
    expect(summary).toMatch(/3 customer messages on email, webchat, whatsapp/);
    expect(extractiveSummary([])).toMatch(/not written/);
  });

  test('channel windows: WhatsApp 24 h from the last inbound, email never closes', () => {
    const ev = (channel: string, at: number) => ({ channel, direction: 'inbound', occurredAt: iso(at) }) as never;
    const windows = channelWindows([ev('whatsapp', NOW - 30 * HOUR), ev('whatsapp', NOW - 2 * HOUR), ev('email', NOW - 100 * HOUR), ev('messenger', NOW - 30 * HOUR)], ['sms'], NOW);
    expect(windows).toEqual([
      { channel: 'whatsapp', lastInboundAt: iso(NOW - 2 * HOUR), open: true, closesAt: iso(NOW + 22 * HOUR) },
      { channel: 'email', lastInboundAt: iso(NOW - 100 * HOUR), open: true, closesAt: null },
      { channel: 'messenger', lastInboundAt: iso(NOW - 30 * HOUR), open: false, closesAt: iso(NOW - 6 * HOUR) },
      { channel: 'sms', lastInboundAt: null, open: true, closesAt: null },
    ]);
  });
});

describeStores('handoff', (ctx) => {
  async function setup() {
    const ot = ctx().omnithread({ clock: () => NOW });
    await ot.roster().import([
      { id: 'bot:faq', kind: 'ai', capacity: 1000, channelCosts: { webchat: 1, whatsapp: 1, email: 1 } },
      { id: 'ann', name: 'Ann' },
      { id: 'bob', name: 'Bob' },
      { id: 'cid', name: 'Cid' },
    ]);
    return ot;
  }

  /** A customer who wrote by email 5 h ago and on WhatsApp 2 h ago (the bot answered in between). */
  async function customer(ot: Omnithread, whatsappAgoHours = 2) {
    const first = await ot.ingest(
      message([email('ana@brightmail.io')], { channel: 'email', text: 'I was charged twice for order 1234', sentAt: iso(NOW - 5 * HOUR), from: { name: 'Ana Silva', handles: [email('ana@brightmail.io')] } }),
    );
    await ot.recordOutbound(first.contact.id, { channel: 'email', text: 'Sorry about that! Could you send the last digits of your card?', sentAt: iso(NOW - 4 * HOUR), author: { name: 'FAQ bot', type: 'ai' } });
    const second = await ot.ingest(
      message([phone('+14155550100'), email('ana@brightmail.io', 'verified')], {
        channel: 'whatsapp',
        text: 'Still waiting for my refund, this is ridiculous',
        sentAt: iso(NOW - whatsappAgoHours * HOUR),
      }),
    );
    expect(second.contact.id).toBe(first.contact.id);
    expect(second.conversation.id).toBe(first.conversation.id);
    await ot.assignConversation(first.conversation.id, 'bot:faq');
    return { contactId: first.contact.id, conversationId: first.conversation.id };
  }

  test('bot-to-human handoff produces a complete packet', async () => {
    const ot = await setup();
    const { contactId, conversationId } = await customer(ot);
    const packet = await handOff(ot, {
      conversationId,
      toAgentId: 'ann',
      fromAgentId: 'bot:faq',
      reason: 'customer asked for a human',
      botAttempts: ['looked up order 1234', 'asked for the card digits'],
      classification: billing,
      now: NOW,
    });
    expect(packet).toMatchObject({
      conversationId,
      contact: { id: contactId, name: 'Ana Silva' },
      intent: 'billing',
      sentiment: 'negative',
      language: 'en',
      priority: 'urgent',
      botAttempts: ['looked up order 1234', 'asked for the card digits'],
      reason: 'customer asked for a human',
      from: 'bot:faq',
      to: 'ann',
      status: 'offered',
      offeredAt: iso(NOW),
      expiresAt: iso(NOW + 120_000),
      slaDueAt: iso(NOW + 15 * 60_000),
    });
    expect(packet.handoffId).toEqual(expect.any(String));
    expect(packet.contact.identities).toEqual(
      expect.arrayContaining([
        { kind: 'email', value: 'ana@brightmail.io', scope: null, trust: 'verified' },
        { kind: 'phone', value: '+14155550100', scope: null, trust: 'channel' },
      ]),
    );
    expect(packet.transcript).toContain('I was charged twice for order 1234');
    expect(packet.transcript).toContain('Still waiting for my refund');
    expect(packet.transcript).toContain('email');
    expect(packet.transcript).toContain('whatsapp');
    expect(packet.summary).toContain('I was charged twice for order 1234');
    expect(packet.summary).toContain('Still waiting for my refund');
    expect(packet.channelWindows).toEqual(
      expect.arrayContaining([
        { channel: 'whatsapp', lastInboundAt: iso(NOW - 2 * HOUR), open: true, closesAt: iso(NOW + 22 * HOUR) },
        { channel: 'email', lastInboundAt: iso(NOW - 5 * HOUR), open: true, closesAt: null },
      ]),
    );

    // Recorded on the timeline, and read back as state.
    const page = await ot.timeline(contactId, { kinds: ['handoff'] });
    expect(page.events).toHaveLength(1);
    expect(page.events[0]).toMatchObject({ id: packet.handoffId, conversationId, data: { to: 'ann', status: 'offered', expiresAt: iso(NOW + 120_000) } });
    expect(await handoffState(ot, conversationId)).toMatchObject({ handoffId: packet.handoffId, status: 'offered', offeredTo: 'ann', offered: ['ann'] });
  });

  test('SLA by priority, budget, given summary; WhatsApp window closed 30 h after the last inbound', async () => {
    const ot = await setup();
    const { conversationId } = await customer(ot, 30);
    const normal = await handOff(ot, { conversationId, reason: 'out of scope', summary: 'Refund question', maxTokens: 60, now: NOW });
    expect(normal).toMatchObject({ status: 'queued', to: null, queue: 'default', expiresAt: null, priority: 'normal', slaDueAt: iso(NOW + 240 * 60_000), summary: 'Refund question' });
    expect(normal.transcript.length).toBeLessThanOrEqual(60 * 4);
    expect(normal.channelWindows).toEqual(
      expect.arrayContaining([{ channel: 'whatsapp', lastInboundAt: iso(NOW - 30 * HOUR), open: false, closesAt: iso(NOW - 6 * HOUR) }]),
    );
    const high = await handOff(ot, { conversationId, reason: 'r', classification: { ...billing, sentiment: 'neutral' }, now: NOW });
    expect(high).toMatchObject({ priority: 'high', slaDueAt: iso(NOW + 60 * 60_000) });
    const custom = await handOff(ot, { conversationId, reason: 'r', slaMinutes: 5, now: NOW });
    expect(custom.slaDueAt).toBe(iso(NOW + 5 * 60_000));
  });

  test('accept by the offered agent assigns; another agent gets CONFLICT', async () => {
    const ot = await setup();
    const { conversationId } = await customer(ot);
    const packet = await handOff(ot, { conversationId, toAgentId: 'ann', fromAgentId: 'bot:faq', reason: 'needs a human', now: NOW });
    await expectError(acceptHandoff(ot, { conversationId, agentId: 'bob', now: NOW + 10_000 }), 'CONFLICT', /offered to ann/);
    const state = await acceptHandoff(ot, { handoffId: packet.handoffId, agentId: 'ann', now: NOW + 10_000 });
    expect(state).toMatchObject({ status: 'accepted', agentId: 'ann' });
    const [ann] = await ot.roster().loads(['ann']);
    expect(ann.openConversations).toBe(1);
    const [bot] = await ot.roster().loads(['bot:faq']);
    expect(bot.openConversations).toBe(0);
    // Accepting again is harmless; someone else now is a conflict.
    expect(await acceptHandoff(ot, { conversationId, agentId: 'ann', now: NOW + 20_000 })).toMatchObject({ status: 'accepted', agentId: 'ann' });
    await expectError(acceptHandoff(ot, { conversationId, agentId: 'bob', now: NOW + 20_000 }), 'CONFLICT', /already accepted by ann/);
    expect((await ot.timeline(state.contactId, { kinds: ['handoff_accepted'] })).events).toHaveLength(1);
  });

  test('an offer expires after 120 s: accept is refused; escalate offers the next candidate once; none left -> queued', async () => {
    const ot = await setup();
    const { conversationId, contactId } = await customer(ot);
    await handOff(ot, { conversationId, toAgentId: 'ann', reason: 'needs a human', now: NOW });
    const asked: string[][] = [];
    const roster = ['ann', 'bob'];
    const nextCandidate = async (excluded: string[]) => {
      asked.push(excluded);
      return roster.find((id) => !excluded.includes(id));
    };

    const early = await escalateExpiredOffers(ot, { conversationId, now: NOW + 60_000, nextCandidate });
    expect(early).toMatchObject({ escalated: false, reason: expect.stringMatching(/open until/) });
    expect(asked).toEqual([]);

    await expectError(acceptHandoff(ot, { conversationId, agentId: 'ann', now: NOW + 121_000 }), 'CONFLICT', /expired/);

    const first = await escalateExpiredOffers(ot, { conversationId, now: NOW + 121_000, nextCandidate });
    expect(first.escalated).toBe(true);
    expect(asked).toEqual([['ann']]);
    expect(first.state).toMatchObject({ status: 'offered', offeredTo: 'bob', offered: ['ann', 'bob'], expiresAt: iso(NOW + 241_000) });

    // A second call at the same time does nothing.
    const again = await escalateExpiredOffers(ot, { conversationId, now: NOW + 121_000, nextCandidate });
    expect(again.escalated).toBe(false);
    // Two concurrent calls on the next expiry make one escalation.
    const both = await Promise.all([
      escalateExpiredOffers(ot, { conversationId, now: NOW + 300_000, nextCandidate }),
      escalateExpiredOffers(ot, { conversationId, now: NOW + 300_000, nextCandidate }),
    ]);
    expect(both.filter((r) => r.escalated)).toHaveLength(1);
    const state = await handoffState(ot, conversationId);
    expect(state).toMatchObject({ status: 'queued', offeredTo: null, queue: 'default', expiresAt: null, offered: ['ann', 'bob'] });
    const timeline = await ot.timeline(contactId, { kinds: ['handoff', 'handoff_offered', 'handoff_expired'] });
    expect(timeline.events.map((e) => e.kind)).toEqual(['handoff', 'handoff_expired', 'handoff_offered', 'handoff_expired', 'handoff_offered']);
    expect(timeline.events.filter((e) => e.kind === 'handoff_offered').map((e) => e.data.to)).toEqual(['bob', null]);

    // Queued: anyone may accept, even the agent whose offer expired.
    expect(await acceptHandoff(ot, { conversationId, agentId: 'cid', now: NOW + 301_000 })).toMatchObject({ status: 'accepted', agentId: 'cid' });
    expect((await ot.roster().loads(['cid']))[0].openConversations).toBe(1);
  });

  test('two agents accepting a queued handoff at once: one wins, the other gets CONFLICT', async () => {
    const ot = await setup();
    const { conversationId } = await customer(ot);
    await handOff(ot, { conversationId, queue: 'billing', reason: 'needs a human', now: NOW });
    expect((await ot.roster().loads(['bot:faq']))[0].openConversations).toBe(0);
    const results = await Promise.allSettled([
      acceptHandoff(ot, { conversationId, agentId: 'ann', now: NOW + 1000 }),
      acceptHandoff(ot, { conversationId, agentId: 'bob', now: NOW + 1000 }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect((lost[0].reason as OmnithreadError).code).toBe('CONFLICT');
    const state = await handoffState(ot, conversationId);
    const loads = await ot.roster().loads(['ann', 'bob']);
    expect(loads.find((l) => l.agentId === state!.agentId)?.openConversations).toBe(1);
    expect(loads.reduce((n, l) => n + l.openConversations, 0)).toBe(1);
    expect(state).toMatchObject({ status: 'accepted', queue: 'billing' });
  });

  test('release unassigns back to the pool; resolve closes the conversation and frees capacity', async () => {
    const ot = await setup();
    const { conversationId } = await customer(ot);
    await handOff(ot, { conversationId, toAgentId: 'ann', reason: 'needs a human', now: NOW });
    await acceptHandoff(ot, { conversationId, agentId: 'ann', now: NOW + 1000 });
    await expectError(releaseHandoff(ot, { conversationId, agentId: 'bob', now: NOW + 2000 }), 'CONFLICT', /accepted by ann/);
    const released = await releaseHandoff(ot, { conversationId, agentId: 'ann', reason: 'end of shift', now: NOW + 2000 });
    expect(released).toMatchObject({ status: 'queued', agentId: null, offeredTo: null });
    expect((await ot.roster().loads(['ann']))[0].openConversations).toBe(0);

    await acceptHandoff(ot, { conversationId, agentId: 'bob', now: NOW + 3000 });
    expect((await ot.roster().loads(['bob']))[0]).toMatchObject({ openConversations: 1, used: 20 });
    await expectError(resolveHandoff(ot, { conversationId, agentId: 'ann', now: NOW + 4000 }), 'CONFLICT');
    const resolved = await resolveHandoff(ot, { conversationId, agentId: 'bob', now: NOW + 4000 });
    expect(resolved).toMatchObject({ status: 'resolved', agentId: 'bob' });
    expect((await ot.roster().loads(['bob']))[0]).toMatchObject({ openConversations: 0, used: 0 });
    const conversations = await ot.conversations(resolved.contactId);
    expect(conversations.find((c) => c.id === conversationId)?.status).toBe('resolved');
    // Resolving again changes nothing; a closed conversation cannot be handed off.
    expect(await resolveHandoff(ot, { conversationId, now: NOW + 5000 })).toMatchObject({ status: 'resolved' });
    await expectError(handOff(ot, { conversationId, toAgentId: 'ann', reason: 'again', now: NOW + 6000 }), 'CONFLICT', /resolved/);
  });

  test('agent-to-agent handoff keeps the transcript', async () => {
    const ot = await setup();
    const { conversationId } = await customer(ot);
    const toAnn = await handOff(ot, { conversationId, toAgentId: 'ann', fromAgentId: 'bot:faq', reason: 'needs a human', now: NOW });
    await acceptHandoff(ot, { conversationId, agentId: 'ann', now: NOW + 1000 });
    const toBob = await handOff(ot, { conversationId, toAgentId: 'bob', fromAgentId: 'ann', reason: 'needs a billing specialist', now: NOW + 60_000 });
    expect(toBob.handoffId).not.toBe(toAnn.handoffId);
    expect(toBob).toMatchObject({ from: 'ann', to: 'bob', status: 'offered' });
    expect(toBob.transcript).toContain('I was charged twice for order 1234');
    expect(toBob.transcript).toContain('Still waiting for my refund');
    expect(toBob.summary).toBe(toAnn.summary);
    await expectError(acceptHandoff(ot, { handoffId: toAnn.handoffId, agentId: 'ann', now: NOW + 61_000 }), 'CONFLICT', /superseded/);
    await acceptHandoff(ot, { conversationId, agentId: 'bob', now: NOW + 61_000 });
    const loads = await ot.roster().loads(['ann', 'bob']);
    expect(loads.map((l) => [l.agentId, l.openConversations])).toEqual([
      ['ann', 0],
      ['bob', 1],
    ]);
  });

  test('NOT_FOUND and INVALID_INPUT name what is wrong', async () => {
    const ot = await setup();
    const { conversationId } = await customer(ot);
    await expectError(handOff(ot, { conversationId: 'cv_nope', reason: 'x' }), 'NOT_FOUND', /cv_nope/);
    await expectError(handoffState(ot, 'cv_nope'), 'NOT_FOUND');
    await expectError(acceptHandoff(ot, { conversationId: 'cv_nope', agentId: 'ann' }), 'NOT_FOUND');
    await expectError(acceptHandoff(ot, { handoffId: 'ev_nope', agentId: 'ann' }), 'NOT_FOUND', /ev_nope/);
    await expectError(acceptHandoff(ot, { conversationId, agentId: 'ann' }), 'NOT_FOUND', /not been handed off/);
    const unknownAgent = await expectError(handOff(ot, { conversationId, toAgentId: 'zed', reason: 'x' }), 'NOT_FOUND', /zed/);
    expect(unknownAgent.field).toBe('toAgentId');
    const bad = await expectError(handOff(ot, { conversationId, reason: '', maxTokens: 10, offerTimeoutSeconds: 0 } as never), 'INVALID_INPUT');
    expect(bad.message).toMatch(/reason/);
    expect(bad.message).toMatch(/maxTokens/);
    expect(bad.message).toMatch(/offerTimeoutSeconds/);
    expect((await expectError(acceptHandoff(ot, { agentId: 'ann' }), 'INVALID_INPUT')).field).toBe('conversationId');
    expect((await expectError(escalateExpiredOffers(ot, { conversationId } as never), 'INVALID_INPUT')).field).toBe('nextCandidate');
    expect(await handoffState(ot, conversationId)).toBeUndefined();
  });
});
