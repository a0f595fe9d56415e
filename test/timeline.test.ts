import { estimateTokens } from '../shared';
import { countRows, describeStores } from './support/stores';
import { email, message, phone, scoped } from './support/messages';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

describeStores('timeline', (ctx) => {
  /** The product's story: chat, then email the next day, then SMS; one person, one conversation. */
  async function story(options: { idleTimeoutMs?: number } = {}) {
    let now = Date.parse('2026-11-02T09:00:00Z');
    const clock = { advance: (ms: number) => (now += ms), now: () => now };
    const ot = ctx().omnithread({ clock: () => now, rules: { defaultCountry: 'GB' }, ...options });
    const chat = await ot.ingest(
      message([scoped('webchat_visitor', 'shop.io', 'v-42'), email('maya@inbox.io', 'verified')], {
        channel: 'webchat',
        text: 'Hi, my parcel #5521 never arrived',
        from: { name: 'Maya', handles: [scoped('webchat_visitor', 'shop.io', 'v-42'), email('maya@inbox.io', 'verified')] },
      }),
    );
    clock.advance(DAY);
    const mail = await ot.ingest(message([email('maya@inbox.io')], { channel: 'email', channelAccount: 'support@shop.io', text: 'Any news on my parcel?' }));
    clock.advance(2 * HOUR);
    const sms = await ot.ingest(message([phone('07911 123456'), email('maya@inbox.io', 'verified')], { channel: 'sms', text: 'Still nothing :(' }));
    return { ot, clock, chat, mail, sms };
  }

  test('one person across channels: one contact, one conversation, channel switches visible', async () => {
    const { ot, chat, mail, sms } = await story();
    expect(new Set([chat.contact.id, mail.contact.id, sms.contact.id]).size).toBe(1);
    expect(new Set([chat.conversation.id, mail.conversation.id, sms.conversation.id]).size).toBe(1);
    expect(mail.channelSwitch).toEqual({ from: 'webchat', to: 'email' });
    expect(sms.channelSwitch).toEqual({ from: 'email', to: 'sms' });
    expect(sms.conversation).toMatchObject({ status: 'open', channels: ['webchat', 'email', 'sms'], lastChannel: 'sms', messageCount: 3 });
    const page = await ot.timeline(chat.contact.id);
    expect(page.events.map((e) => [e.kind, e.channel, e.direction, e.text])).toEqual([
      ['message', 'webchat', 'inbound', 'Hi, my parcel #5521 never arrived'],
      ['channel_switch', 'email', null, ''],
      ['message', 'email', 'inbound', 'Any news on my parcel?'],
      ['channel_switch', 'sms', null, ''],
      ['message', 'sms', 'inbound', 'Still nothing :('],
    ]);
    expect(page.events[1].data).toEqual({ from: 'webchat', to: 'email' });
    expect(page.nextCursor).toBeNull();
    expect(sms.contact.name).toBe('Maya');
  });

  test('an idle conversation ends after the idle timeout (default 7 days) and the next message opens a new one', async () => {
    const { ot, clock, chat } = await story();
    clock.advance(7 * DAY - 1000);
    const within = await ot.ingest(message([email('maya@inbox.io')], { channel: 'email' }));
    expect(within.conversation.id).toBe(chat.conversation.id);
    clock.advance(7 * DAY + 1000);
    const after = await ot.ingest(message([email('maya@inbox.io')], { channel: 'email' }));
    expect(after.conversation.id).not.toBe(chat.conversation.id);
    expect(after.channelSwitch).toBeNull();
    const conversations = await ot.conversations(chat.contact.id);
    expect(conversations.map((c) => c.status)).toEqual(['open', 'idle']);
    expect(conversations[1].closedAt).not.toBeNull();
  });

  test('the idle timeout is configurable', async () => {
    const { ot, clock, chat } = await story({ idleTimeoutMs: HOUR });
    clock.advance(2 * HOUR);
    const next = await ot.ingest(message([email('maya@inbox.io')], { channel: 'email' }));
    expect(next.conversation.id).not.toBe(chat.conversation.id);
  });

  test('a resolved conversation ends the episode', async () => {
    const { ot, sms } = await story();
    const resolved = await ot.resolveConversation(sms.conversation.id);
    expect(resolved.status).toBe('resolved');
    const next = await ot.ingest(message([email('maya@inbox.io')], { channel: 'email' }));
    expect(next.conversation.id).not.toBe(sms.conversation.id);
    await expect(ot.resolveConversation('cv_unknown')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  test('lookup includes every contact merged into the person', async () => {
    const ot = ctx().omnithread();
    const a = await ot.ingest(message([email('sol@corp.io')], { channel: 'email', text: 'email one' }));
    const b = await ot.ingest(message([scoped('telegram_user', 'bot', '9')], { channel: 'telegram', text: 'telegram one' }));
    await ot.merge(a.contact.id, b.contact.id);
    const texts = (await ot.timeline(b.contact.id, { kinds: ['message'] })).events.map((e) => e.text);
    expect(texts).toEqual(['email one', 'telegram one']);
  });

  test('filters: channels, kinds, since/until, conversation', async () => {
    const { ot, chat, clock } = await story();
    await ot.appendEvent(chat.contact.id, { kind: 'note', text: 'Called the courier' });
    await ot.resolveConversation(chat.conversation.id);
    clock.advance(HOUR);
    const later = await ot.ingest(message([email('maya@inbox.io')], { channel: 'email', text: 'new topic' }));
    const id = chat.contact.id;
    const texts = async (filter: Parameters<typeof ot.timeline>[1]) => (await ot.timeline(id, filter)).events.map((e) => e.text);
    expect(await texts({ channels: ['email'], kinds: ['message'] })).toEqual(['Any news on my parcel?', 'new topic']);
    expect(await texts({ kinds: ['note'] })).toEqual(['Called the courier']);
    expect(await texts({ since: '2026-11-03T00:00:00Z', until: '2026-11-03T10:00:00Z', kinds: ['message'] })).toEqual(['Any news on my parcel?']);
    expect(await texts({ conversationId: later.conversation.id })).toEqual(['new topic']);
    expect(await texts({ kinds: ['message'], order: 'newest-first', limit: 2 })).toEqual(['new topic', 'Still nothing :(']);
  });

  test('cursor paging returns every event exactly once, in both orders', async () => {
    let now = Date.parse('2026-10-01T00:00:00Z');
    const ot = ctx().omnithread({ clock: () => now });
    let contactId = '';
    for (let i = 0; i < 25; i++) {
      // Some events share a timestamp: the sequence number keeps the order total.
      if (i % 3 === 0) now += 1000;
      const result = await ot.ingest(message([email('pager@corp.io')], { text: `m${i}` }));
      contactId = result.contact.id;
    }
    for (const order of ['chronological', 'newest-first'] as const) {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await ot.timeline(contactId, { limit: 10, order, cursor });
        seen.push(...page.events.map((e) => e.text));
        cursor = page.nextCursor ?? undefined;
        pages++;
      } while (cursor);
      const expected = Array.from({ length: 25 }, (_, i) => `m${i}`);
      expect(seen).toEqual(order === 'chronological' ? expected : expected.reverse());
      expect(pages).toBe(3);
    }
    await expect(ot.timeline(contactId, { cursor: 'garbage' })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'cursor' });
    await expect(ot.timeline(contactId, { limit: 0 })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'limit' });
  });

  test('custom events and notes are appended, idempotently when keyed; system kinds are refused', async () => {
    const { ot, chat } = await story();
    const order = await ot.appendEvent(chat.contact.id, { kind: 'order_placed', data: { orderId: 'A-1', total: 42 }, idempotencyKey: 'order:A-1' });
    const again = await ot.appendEvent(chat.contact.id, { kind: 'order_placed', data: { orderId: 'A-1', total: 42 }, idempotencyKey: 'order:A-1' });
    expect(again.duplicate).toBe(true);
    expect(again.event.id).toBe(order.event.id);
    expect(order.event.conversationId).toBe(chat.conversation.id);
    const csat = await ot.appendEvent(chat.contact.id, { kind: 'csat', text: '5/5', channel: 'email' });
    expect(csat.event).toMatchObject({ kind: 'csat', channel: 'email', text: '5/5' });
    await expect(ot.appendEvent(chat.contact.id, { kind: 'message', text: 'x' })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'kind' });
    await expect(ot.appendEvent('ct_missing', { kind: 'note' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(ot.appendEvent(chat.contact.id, { kind: 'note', conversationId: 'cv_other' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await ot.timeline(chat.contact.id, { kinds: ['order_placed'] })).events).toHaveLength(1);
  });

  test('outbound messages are recorded once per provider message id and continue the conversation', async () => {
    const { ot, sms } = await story();
    const reply = { channel: 'sms', providerMessageId: 'SM-out-1', text: 'We re-sent your parcel', author: { name: 'Sam', type: 'human' as const } };
    const first = await ot.recordOutbound(sms.contact.id, reply);
    const second = await ot.recordOutbound(sms.contact.id, reply);
    expect(first.duplicate).toBe(false);
    expect(second).toEqual({ duplicate: true, event: first.event });
    expect(first.event).toMatchObject({ direction: 'outbound', conversationId: sms.conversation.id, data: { author: { name: 'Sam', type: 'human' } } });
    const conversation = (await ot.conversations(sms.contact.id))[0];
    expect(conversation.messageCount).toBe(4);
    // An answer on another channel is a channel switch too.
    const onEmail = await ot.recordOutbound(sms.contact.id, { channel: 'email', text: 'Tracking link inside', author: { type: 'ai' } });
    const kinds = (await ot.timeline(sms.contact.id, { order: 'newest-first', limit: 2 })).events.map((e) => e.kind);
    expect(kinds).toEqual(['message', 'channel_switch']);
    expect(onEmail.event.channel).toBe('email');
  });

  test('the transcript fits its token budget: current conversation in full, earlier ones condensed', async () => {
    let now = Date.parse('2026-09-01T08:00:00Z');
    const ot = ctx().omnithread({ clock: () => now });
    const handles = [email('leo@corp.io')];
    const first = await ot.ingest(message(handles, { channel: 'email', text: 'How do I reset my password?' }));
    await ot.recordOutbound(first.contact.id, { channel: 'email', text: 'Use the "forgot password" link on the sign-in page.', author: { name: 'Ava' } });
    await ot.resolveConversation(first.conversation.id);
    now += 30 * DAY;
    await ot.ingest(message(handles, { channel: 'webchat', text: 'My invoice for October is wrong' }));
    now += HOUR;
    await ot.ingest(message(handles, { channel: 'email', text: 'Sending the invoice as a PDF' }));
    const full = await ot.transcript(first.contact.id, { maxTokens: 1000 });
    expect(full.estimatedTokens).toBeLessThanOrEqual(1000);
    expect(full.text).toContain('Customer: ');
    expect(full.text).toContain('Current conversation (open');
    expect(full.text).toContain('Customer: My invoice for October is wrong');
    expect(full.text).toContain('the customer moved from webchat to email');
    expect(full.text).toContain('Earlier conversations');
    expect(full.text).toContain('asked: "How do I reset my password?"');
    expect(full.text).toContain('last (agent (ava)): "Use the "forgot password" link on the sign-in page."');
    expect(full.conversations.map((c) => c.shown)).toEqual(['full', 'summary']);

    // Many long messages: the newest are kept, the rest counted, and the budget holds.
    for (let i = 0; i < 60; i++) {
      now += 60_000;
      await ot.ingest(message(handles, { channel: 'webchat', text: `Message number ${i} ${'lorem ipsum '.repeat(20)}` }));
    }
    const tight = await ot.transcript(first.contact.id, { maxTokens: 400 });
    expect(tight.estimatedTokens).toBeLessThanOrEqual(400);
    expect(estimateTokens(tight.text)).toBe(tight.estimatedTokens);
    expect(tight.text).toContain('Message number 59');
    expect(tight.omittedEvents).toBeGreaterThan(40);
    expect(tight.text).toMatch(/\(\d+ earlier messages of this conversation left out to fit the budget\)/);
    expect(tight.conversations[0].shown).toBe('partial');
  });

  test('an invalid message is rejected naming the field, and nothing is written', async () => {
    const ot = ctx().omnithread();
    await ot.ingest(message([email('pre@corp.io')]));
    const before = await countRows(ctx().store);
    await expect(ot.ingest({ channel: 'email', providerMessageId: 'x', from: { handles: [{ kind: 'email', value: '' }] } })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      field: 'from.handles.0.value',
    });
    await expect(ot.ingest({ channel: 'email', from: { handles: [email('a@corp.io')] } } as never)).rejects.toMatchObject({ field: 'providerMessageId' });
    await expect(ot.ingest({ channel: 'email', providerMessageId: 'y', from: { handles: [email('a@corp.io')] }, sentAt: 'soon' })).rejects.toMatchObject({
      field: 'sentAt',
    });
    expect(await countRows(ctx().store)).toEqual(before);
  });

  test('a redelivery changes nothing and returns what was recorded', async () => {
    const ot = ctx().omnithread();
    const input = message([email('dup@corp.io')], { channel: 'whatsapp', channelAccount: 'phone-1', providerMessageId: 'wamid.X' });
    const first = await ot.ingest(input);
    const before = await countRows(ctx().store);
    const again = await ot.ingest({ ...input, text: 'a different body does not matter' });
    expect(again.duplicate).toBe(true);
    expect(again.event?.id).toBe(first.event?.id);
    expect(again.contact.id).toBe(first.contact.id);
    expect(again.identity.explanation).toBe(`This message was recorded before (event ${first.event?.id}); a redelivery changes nothing.`);
    expect(await countRows(ctx().store)).toEqual(before);
    // The same provider id on another channel account is another message.
    const other = await ot.ingest({ ...input, channelAccount: 'phone-2' });
    expect(other.duplicate).toBe(false);
  });

  test('statuses of our messages and calls are recorded once, on the same person; unknown ones are ignored', async () => {
    const ot = ctx().omnithread();
    const inbound = await ot.ingest(message([phone('+447911123456')], { channel: 'whatsapp', channelAccount: 'pn-1', text: 'hello' }));
    await ot.recordOutbound(inbound.contact.id, { channel: 'whatsapp', channelAccount: 'pn-1', providerMessageId: 'wamid.out-1', text: 'Hi, how can we help?' });
    const delivered = await ot.recordStatus({ channel: 'whatsapp', channelAccount: 'pn-1', providerMessageId: 'wamid.out-1', status: 'delivered' });
    expect(delivered).toMatchObject({ recorded: true, duplicate: false, of: { providerMessageId: 'wamid.out-1', direction: 'outbound' } });
    expect(delivered.event).toMatchObject({ kind: 'status', contactId: inbound.contact.id, conversationId: inbound.conversation.id, data: { status: 'delivered' } });
    const again = await ot.recordStatus({ channel: 'whatsapp', channelAccount: 'pn-1', providerMessageId: 'wamid.out-1', status: 'delivered' });
    expect(again).toMatchObject({ recorded: false, duplicate: true });
    await ot.recordStatus({ channel: 'whatsapp', channelAccount: 'pn-1', providerMessageId: 'wamid.out-1', status: 'failed', details: { code: 131047, title: 'Re-engagement message' } });
    expect(await ot.recordStatus({ channel: 'whatsapp', providerMessageId: 'wamid.sent-elsewhere', status: 'read' })).toMatchObject({ recorded: false, duplicate: false });
    await expect(ot.recordStatus({ channel: 'whatsapp', providerMessageId: 'x', status: 'lost' as never })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'status' });

    // A call is on the timeline as a call, and its statuses follow it.
    const call = await ot.ingest(message([phone('+447911123456')], { channel: 'voice', kind: 'call', providerMessageId: 'CA123', text: 'Inbound call' }));
    expect(call.event?.kind).toBe('call');
    await ot.recordStatus({ channel: 'voice', providerMessageId: 'CA123', status: 'completed', details: { duration: 42 } });
    const statuses = (await ot.timeline(inbound.contact.id, { kinds: ['status'] })).events.map((e) => e.data.status);
    expect(statuses).toEqual(['delivered', 'failed', 'completed']);
    const { text } = await ot.transcript(inbound.contact.id);
    expect(text).toContain('The customer called: Inbound call');
    expect(text).toContain('-- our message could not be delivered');
    // Only the failure is worth a line: no line for 'delivered' or 'completed'.
    expect(text.split('\n').filter((l) => /deliver|status|completed/.test(l))).toEqual([expect.stringContaining('-- our message could not be delivered')]);
  });
});
