/**
 * The core's continuity rules on both stores, on an injected clock: a reply continues its conversation
 * after it went idle, edits update the original in place, a button pressed is an interaction, our own
 * messages seen on a channel are recorded as ours, watermark receipts mark what we sent, and what a
 * sender says about themselves lands on the contact.
 */
import { OmnithreadError } from '../shared';
import { email, message, scoped } from './support/messages';
import { describeStores } from './support/stores';

const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.parse('2026-11-24T10:00:00Z');

/** A clock the test moves by hand. */
function manualClock(start = T0) {
  let now = start;
  return { clock: () => now, set: (at: number) => (now = at) };
}

const mail = (id: string, at: number, extra: Partial<Parameters<typeof message>[1]> = {}) =>
  message([email('maya@fastmail.fm')], { channel: 'email', channelAccount: 'support@shop.io', providerMessageId: id, threadKey: '<m1@fastmail.fm>', sentAt: at, ...extra });

describeStores('a reply continues its conversation', (ctx) => {
  test('a reply in the thread after the conversation went idle continues it; an unrelated message opens a new one', async () => {
    const time = manualClock();
    const ot = ctx().omnithread({ clock: time.clock });
    const first = await ot.ingest(mail('<m1@fastmail.fm>', T0, { text: 'My parcel never arrived' }));
    await ot.recordOutbound(first.contact.id, { channel: 'email', channelAccount: 'support@shop.io', providerMessageId: '<r1@shop.io>', text: 'Here is your tracking number', sentAt: T0 + 3_600_000 });

    // Ten days later (idle timeout 7 days) she answers our mail, in the same thread: the same story goes on.
    time.set(T0 + 10 * DAY);
    const reply = await ot.ingest(mail('<m2@fastmail.fm>', T0 + 10 * DAY, { inReplyTo: ['<r1@shop.io>', '<m1@fastmail.fm>'], text: 'It still has not arrived' }));
    expect(reply.conversation).toMatchObject({ id: first.conversation.id, status: 'open', messageCount: 3 });

    // A new mail with no reference, eleven days after that: the old episode ends (idle), a new one opens.
    time.set(T0 + 21 * DAY);
    const fresh = await ot.ingest(mail('<m3@fastmail.fm>', T0 + 21 * DAY, { threadKey: '<m3@fastmail.fm>', text: 'New question' }));
    expect(fresh.conversation.id).not.toBe(first.conversation.id);
    expect((await ot.conversations(first.contact.id)).map((c) => [c.id, c.status])).toEqual([
      [fresh.conversation.id, 'open'],
      [first.conversation.id, 'idle'],
    ]);

    // That one is resolved; then she answers the old thread once more: the idle conversation is reopened.
    await ot.resolveConversation(fresh.conversation.id);
    time.set(T0 + 22 * DAY);
    const late = await ot.ingest(mail('<m4@fastmail.fm>', T0 + 22 * DAY, { inReplyTo: ['<m2@fastmail.fm>'], text: 'About the parcel again' }));
    expect(late.conversation).toMatchObject({ id: first.conversation.id, status: 'open' });
    const reopened = (await ot.timeline(first.contact.id, { kinds: ['conversation_reopened'] })).events;
    expect(reopened).toHaveLength(1);
    expect(reopened[0]).toMatchObject({ conversationId: first.conversation.id, data: { from: 'idle', closedAt: new Date(T0 + 10 * DAY + 7 * DAY).toISOString() } });
    expect((await ot.transcript(first.contact.id)).text).toContain("answered in this conversation's thread");
  });

  test('a reply to a resolved conversation reopens it; while another conversation is open, the person stays in that one', async () => {
    const time = manualClock();
    const ot = ctx().omnithread({ clock: time.clock });
    const tg = (id: string, at: number, inReplyTo?: string[]) =>
      message([scoped('telegram_user', 'bot-1', '42')], { channel: 'telegram', channelAccount: 'bot-1', providerMessageId: id, threadKey: 'bot-1:42', sentAt: at, ...(inReplyTo ? { inReplyTo } : {}) });
    const first = await ot.ingest(tg('42:1', T0));
    await ot.resolveConversation(first.conversation.id);
    time.set(T0 + DAY);
    const answer = await ot.ingest(tg('42:2', T0 + DAY, ['42:1']));
    expect(answer.conversation.id).toBe(first.conversation.id);
    expect((await ot.timeline(first.contact.id, { kinds: ['conversation_reopened'] })).events[0].data).toMatchObject({ from: 'resolved' });

    // Resolved again; then she writes without a reference (a new episode), and after that answers the old message.
    await ot.resolveConversation(first.conversation.id);
    time.set(T0 + 2 * DAY);
    const another = await ot.ingest(tg('42:3', T0 + 2 * DAY));
    expect(another.conversation.id).not.toBe(first.conversation.id);
    const late = await ot.ingest(tg('42:4', T0 + 2 * DAY + 60_000, ['42:1']));
    expect(late.conversation.id).toBe(another.conversation.id);
  });
});

describeStores('edits update the original in place', (ctx) => {
  const tg = (text: string, editedAt?: number, id = '42:7') =>
    message([scoped('telegram_user', 'bot-1', '42')], {
      channel: 'telegram',
      channelAccount: 'bot-1',
      providerMessageId: id,
      threadKey: 'bot-1:42',
      sentAt: T0,
      text,
      ...(editedAt ? { editedAt } : {}),
    });

  test('the newest text is shown once, earlier versions are kept; a redelivered edit changes nothing; a late older edit only joins the history', async () => {
    const ot = ctx().omnithread({ clock: () => T0 + DAY });
    const original = await ot.ingest(tg('order 4471'));
    const edit = await ot.ingest(tg('order 44719', T0 + 60_000));
    expect(edit).toMatchObject({ effect: 'edited', duplicate: false });
    expect(edit.event?.id).toBe(original.event?.id);
    expect(edit.event).toMatchObject({ text: 'order 44719', data: { editedAt: new Date(T0 + 60_000).toISOString(), edits: [{ text: 'order 4471', at: new Date(T0).toISOString() }] } });
    expect((await ot.ingest(tg('order 44719', T0 + 60_000))).effect).toBe('duplicate');
    const older = await ot.ingest(tg('order 447', T0 + 30_000));
    expect(older.effect).toBe('edited');
    expect(older.event?.text).toBe('order 44719');
    expect((older.event?.data.edits as { text: string }[]).map((e) => e.text)).toEqual(['order 4471', 'order 447']);
    const messages = (await ot.timeline(original.contact.id, { kinds: ['message'] })).events;
    expect(messages.map((e) => e.text)).toEqual(['order 44719']);
    const transcript = await ot.transcript(original.contact.id);
    expect(transcript.text.match(/order 4471/g)).toEqual(['order 44719'].map(() => 'order 4471'));
    expect(transcript.text).toContain('order 44719');
    expect((await ot.conversations(original.contact.id))[0].messageCount).toBe(1);
  });

  test('an edit that arrives before its original is recorded as the message; the original then is a redelivery', async () => {
    const ot = ctx().omnithread({ clock: () => T0 + DAY });
    const edit = await ot.ingest(tg('the edited text', T0 + 60_000, '42:8'));
    expect(edit.effect).toBe('recorded');
    expect(edit.event).toMatchObject({ text: 'the edited text', data: { editedAt: new Date(T0 + 60_000).toISOString(), edits: [] } });
    const original = await ot.ingest(tg('the first text', undefined, '42:8'));
    expect(original.effect).toBe('duplicate');
    expect(original.event?.text).toBe('the edited text');
  });
});

describeStores('interactions, attributes and watermark receipts', (ctx) => {
  test('a button pressed is on the timeline as an interaction, not as a message the customer said', async () => {
    const ot = ctx().omnithread({ clock: () => T0 });
    const handles = [scoped('telegram_user', 'bot-1', '42')];
    const said = await ot.ingest(message(handles, { channel: 'telegram', channelAccount: 'bot-1', text: 'How was our service?', sentAt: T0 }));
    const pressed = await ot.ingest(message(handles, { channel: 'telegram', channelAccount: 'bot-1', kind: 'interaction', text: 'csat:5', sentAt: T0 + 1000 }));
    expect(pressed.event).toMatchObject({ kind: 'interaction', text: 'csat:5', direction: 'inbound' });
    expect(pressed.conversation.id).toBe(said.conversation.id);
    expect(pressed.conversation.messageCount).toBe(1);
    expect((await ot.transcript(said.contact.id)).text).toContain('The customer pressed a button: csat:5');
    // What routing reads as the customer's words leaves it out.
    expect((await ot.routingContext(said.contact.id)).messages.map((m) => m.text)).toEqual(['How was our service?']);
  });

  test("what a sender tells about themselves (pre-chat fields) is merged into the contact's attributes", async () => {
    const ot = ctx().omnithread({ clock: () => T0 });
    const visitor = [scoped('webchat_visitor', 'shop', 'v-1')];
    await ot.ingest(message(visitor, { from: { handles: visitor, attributes: { webchat: { orderNumber: '44719' } } } }));
    const contact = await ot.findContact(visitor[0]);
    await ot.setContactAttributes(contact!.id, { vip: true });
    const again = await ot.ingest(message(visitor, { from: { handles: visitor, attributes: { webchat: { orderNumber: '44720', plan: 'pro' } } } }));
    expect(again.contact.attributes).toEqual({ vip: true, webchat: { orderNumber: '44720', plan: 'pro' } });
  });

  test('a watermark receipt marks every message we sent the person up to it, each once', async () => {
    const time = manualClock();
    const ot = ctx().omnithread({ clock: time.clock });
    const psid = scoped('messenger_psid', 'page-1', '7001');
    const inbound = await ot.ingest(message([psid], { channel: 'messenger', channelAccount: 'page-1', sentAt: T0 }));
    const sent = async (id: string, at: number) =>
      ot.recordOutbound(inbound.contact.id, { channel: 'messenger', channelAccount: 'page-1', providerMessageId: id, text: id, sentAt: at });
    await sent('m_out_1', T0 + 1000);
    await sent('m_out_2', T0 + 2000);
    await sent('m_out_3', T0 + 9000);
    const read = { channel: 'messenger', channelAccount: 'page-1', status: 'read' as const, recipient: psid };
    const first = await ot.recordStatus({ ...read, upTo: T0 + 5000, at: T0 + 6000 });
    expect(first).toMatchObject({ recorded: true, marked: 2 });
    expect((await ot.recordStatus({ ...read, upTo: T0 + 5000 })).duplicate).toBe(true);
    const later = await ot.recordStatus({ ...read, upTo: T0 + 10_000 });
    expect(later).toMatchObject({ recorded: true, marked: 1, of: { providerMessageId: 'm_out_3' } });
    const statuses = (await ot.timeline(inbound.contact.id, { kinds: ['status'] })).events;
    expect(statuses.map((s) => s.data.status)).toEqual(['read', 'read', 'read']);
    // A receipt from somebody we never wrote to is about nothing we know.
    expect(await ot.recordStatus({ ...read, recipient: scoped('messenger_psid', 'page-1', '9999'), upTo: T0 })).toMatchObject({ recorded: false, marked: 0 });
    // One of the two is required: an id or a watermark with its recipient.
    await expect(ot.recordStatus({ channel: 'messenger', status: 'read', upTo: T0 } as never)).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'providerMessageId' });
  });
});

describeStores('our own messages seen on a channel', (ctx) => {
  const agentMail = (id: string, extra: Partial<Parameters<typeof message>[1]> = {}) =>
    message([email('support@shop.io')], {
      channel: 'email',
      channelAccount: 'support@shop.io',
      providerMessageId: id,
      direction: 'outbound',
      from: { handles: [email('support@shop.io')], name: 'Acme Support (Tom)' },
      to: { handles: [email('maya@fastmail.fm')] },
      text: 'Here is your tracking number',
      sentAt: T0 + 3_600_000,
      ...extra,
    });

  test("an agent's answer from the support mailbox is ours, on the customer's timeline, in the thread it answers", async () => {
    const ot = ctx().omnithread({ clock: () => T0 + DAY, rules: { ownAddresses: ['shop.io'] } });
    const question = await ot.ingest(mail('<m1@fastmail.fm>', T0));
    const answer = await ot.ingest(agentMail('<a1@shop.io>', { inReplyTo: ['<m1@fastmail.fm>'], threadKey: '<m1@fastmail.fm>' }));
    expect(answer).toMatchObject({ effect: 'outbound', duplicate: false });
    expect(answer.contact.id).toBe(question.contact.id);
    expect(answer.conversation.id).toBe(question.conversation.id);
    expect(answer.event).toMatchObject({ direction: 'outbound', channel: 'email', text: 'Here is your tracking number', data: { author: { id: 'support@shop.io', name: 'Acme Support (Tom)', type: 'human' } } });
    expect(answer.identity.explanation).toMatch(/found by the message it answers/);
    // Nobody new: the support address is nobody's identity.
    expect(answer.contact.identities.map((i) => i.value)).toEqual(['maya@fastmail.fm']);
    expect((await ot.ingest(agentMail('<a1@shop.io>', { inReplyTo: ['<m1@fastmail.fm>'] }))).effect).toBe('duplicate');

    // An agent writing from their own address of an own domain, without the direction set by the channel.
    const personal = await ot.ingest(
      message([email('tom@shop.io')], { channel: 'email', channelAccount: 'support@shop.io', providerMessageId: '<a2@shop.io>', inReplyTo: ['<a1@shop.io>'], to: { handles: [email('maya@fastmail.fm')] } }),
    );
    expect(personal).toMatchObject({ effect: 'outbound', contact: { id: question.contact.id } });
  });

  test('a first mail from us finds (or records) the customer by its recipients; a mail the Reply node sent is recognised; mail among ourselves is not recorded', async () => {
    const ot = ctx().omnithread({ clock: () => T0 + DAY, rules: { ownAddresses: ['support@shop.io', 'billing@shop.io'] } });
    const first = await ot.ingest(agentMail('<a9@shop.io>', { to: { handles: [email('new.customer@fastmail.fm'), email('billing@shop.io')] } }));
    expect(first.effect).toBe('outbound');
    expect(first.contact.identities.map((i) => [i.value, i.trust])).toEqual([['new.customer@fastmail.fm', 'channel']]);
    const replied = await ot.ingest(message([email('new.customer@fastmail.fm')], { channel: 'email', channelAccount: 'support@shop.io', inReplyTo: ['<a9@shop.io>'] }));
    expect(replied.contact.id).toBe(first.contact.id);

    // The Reply node sent <sent-1@shop.io> (reserved, then completed with the provider's id); its copy comes back by IMAP.
    const reserved = await ot.reserveOutbound(first.contact.id, 'reply-1', { channel: 'email', channelAccount: 'support@shop.io', text: 'Thanks' });
    await ot.completeOutbound(reserved.event.id, { state: 'sent', channel: 'email', providerMessageId: '<sent-1@shop.io>' });
    const copy = await ot.ingest(agentMail('<sent-1@shop.io>', { to: { handles: [email('new.customer@fastmail.fm')] } }));
    expect(copy).toMatchObject({ effect: 'duplicate', event: { id: reserved.event.id } });

    // From one of our addresses to another: no customer in it.
    const internal = agentMail('<fw@shop.io>', { to: { handles: [email('billing@shop.io')] }, threadKey: '<fw@shop.io>' });
    const error = await ot.ingest(internal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OmnithreadError);
    expect(error).toMatchObject({ code: 'IGNORED' });
    expect((error as Error).message).toMatch(/no customer among its recipients/);
  });
});
