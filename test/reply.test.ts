/**
 * The Reply orchestration: channel choice, windows, templates, fallback and exactly-once sending.
 * Each provider's real send API is tested in test/channels/ against a local server that checks the
 * provider's documented contract; here the channel modules record what they were asked to send.
 */
import { z } from 'zod';
import { ChannelModule, OmnithreadError, OutboundRequest, sendReply } from '../shared';
import { describeStores } from './support/stores';
import { message, phone, scoped } from './support/messages';

const HOUR = 3600_000;

function recordingChannel(id: string, fail: () => OmnithreadError | undefined = () => undefined) {
  const sent: OutboundRequest[] = [];
  const module: ChannelModule<unknown> = {
    id,
    displayName: id,
    description: `${id} (recording)`,
    configSchema: z.object({}),
    settings: [],
    secrets: [],
    verify: () => ({ ok: true }),
    parse: () => [],
    sendConfigSchema: z.object({ token: z.string().min(1) }).strict(),
    send: async (request) => {
      const error = fail();
      if (error) throw error;
      sent.push(request);
      return { providerMessageId: `${id}-out-${sent.length}`, response: { ok: true } };
    },
  };
  return { module, sent };
}

describeStores('reply', (ctx) => {
  async function setup() {
    let now = Date.parse('2026-11-24T10:00:00Z');
    const ot = ctx().omnithread({ clock: () => now, rules: { defaultCountry: 'GB' } });
    const whatsapp = recordingChannel('whatsapp');
    const telegram = recordingChannel('telegram');
    const modules = { whatsapp: whatsapp.module, telegram: telegram.module };
    const channels = { whatsapp: { token: 'wa' }, telegram: { token: 'tg' } };
    const tg = await ot.ingest(
      message([scoped('telegram_user', 'bot1', '42'), phone('07911 123456')], { channel: 'telegram', channelAccount: 'bot1', replyTo: { chatId: 42 }, text: 'from telegram' }),
    );
    now += HOUR;
    const wa = await ot.ingest(message([phone('+447911123456')], { channel: 'whatsapp', channelAccount: 'pn1', replyTo: { to: '447911123456', phoneNumberId: 'pn1' }, text: 'from whatsapp' }));
    const advance = (ms: number) => (now += ms);
    return { ot, whatsapp, telegram, modules, channels, tg, wa, advance, clock: () => now };
  }

  test('answers on the channel of the message being answered, records it, and never sends twice', async () => {
    const { ot, whatsapp, modules, channels, wa, clock } = await setup();
    const options = { modules, channels, now: clock };
    const result = await sendReply(ot, { contactId: wa.contact.id, inReplyTo: wa.event!.id, text: 'We are on it' }, options);
    expect(result).toMatchObject({ duplicate: false, channel: 'whatsapp', via: 'message', providerMessageId: 'whatsapp-out-1', explanation: 'Sent on whatsapp' });
    expect(whatsapp.sent).toEqual([{ to: { to: '447911123456', phoneNumberId: 'pn1' }, text: 'We are on it' }]);
    expect(result.event).toMatchObject({ direction: 'outbound', channel: 'whatsapp', channelAccount: 'pn1', providerMessageId: 'whatsapp-out-1', conversationId: wa.conversation.id });
    expect(result.event.data).toMatchObject({ sendState: 'sent', metadata: { inReplyTo: wa.event!.id } });

    const rerun = await sendReply(ot, { contactId: wa.contact.id, inReplyTo: wa.event!.id, text: 'We are on it (regenerated)' }, options);
    expect(rerun).toMatchObject({ duplicate: true, channel: 'whatsapp', providerMessageId: 'whatsapp-out-1' });
    expect(whatsapp.sent).toHaveLength(1);
    const outbound = (await ot.timeline(wa.contact.id, { kinds: ['message'] })).events.filter((e) => e.direction === 'outbound');
    expect(outbound).toHaveLength(1);

    // A second, different answer to the same message has its own key.
    await sendReply(ot, { contactId: wa.contact.id, inReplyTo: wa.event!.id, text: 'Tracking: XY123', replyKey: 'tracking' }, options);
    expect(whatsapp.sent).toHaveLength(2);
  });

  test('a chosen channel, or the best one still open', async () => {
    const { ot, whatsapp, telegram, modules, channels, tg, clock } = await setup();
    await sendReply(ot, { contactId: tg.contact.id, channel: 'telegram', text: 'On telegram' }, { modules, channels, now: clock });
    expect(telegram.sent[0]).toEqual({ to: { chatId: 42 }, text: 'On telegram' });
    const best = await sendReply(ot, { contactId: tg.contact.id, channel: 'bestOpen', text: 'Best', replyKey: 'best' }, { modules, channels, now: clock });
    expect(best.channel).toBe('whatsapp'); // the person's most recent channel
    expect(whatsapp.sent).toHaveLength(1);
  });

  test("outside WhatsApp's 24-hour window: the template, or another open channel, and the answer says which", async () => {
    const { ot, whatsapp, telegram, modules, channels, wa, advance, clock } = await setup();
    advance(25 * HOUR);
    const template = await sendReply(
      ot,
      { contactId: wa.contact.id, text: 'Your parcel is on its way', whatsappTemplate: { name: 'order_update', language: 'en_GB', parameters: ['5521'] } },
      { modules, channels, now: clock },
    );
    expect(template).toMatchObject({ channel: 'whatsapp', via: 'template' });
    expect(template.explanation).toContain('template');
    expect(whatsapp.sent[0].template).toEqual({ name: 'order_update', language: 'en_GB', parameters: ['5521'] });

    const fallback = await sendReply(ot, { contactId: wa.contact.id, text: 'Answer without a template', replyKey: 'second' }, { modules, channels, now: clock });
    expect(fallback).toMatchObject({ channel: 'telegram', via: 'fallback' });
    expect(fallback.explanation).toMatch(/^Sent on telegram instead of whatsapp \(whatsapp: its 24-hour window closed/);
    expect(telegram.sent).toHaveLength(1);
    expect(fallback.event.channel).toBe('telegram');

    await expect(sendReply(ot, { contactId: wa.contact.id, text: 'No fallback', fallback: false, replyKey: 'third' }, { modules, channels, now: clock })).rejects.toMatchObject({
      code: 'WINDOW_CLOSED',
      message: expect.stringContaining('24-hour window closed'),
    });
  });

  test('a provider failure is a clear error, stays on the timeline as failed, and a re-run retries it', async () => {
    let failure: OmnithreadError | undefined = new OmnithreadError('RATE_LIMITED', 'whatsapp rate limit reached: retry after 30 s', { details: { retryAfterSeconds: 30 } });
    const { ot, modules, channels, wa, clock } = await setup();
    const limited = recordingChannel('whatsapp', () => failure);
    const mods = { ...modules, whatsapp: limited.module };
    await expect(sendReply(ot, { contactId: wa.contact.id, text: 'Hello' }, { modules: mods, channels, now: clock })).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    const [failed] = (await ot.timeline(wa.contact.id, { kinds: ['message'], order: 'newest-first', limit: 1 })).events;
    expect(failed).toMatchObject({ direction: 'outbound', data: { sendState: 'failed', send: { error: { code: 'RATE_LIMITED' } } } });
    failure = undefined;
    const retried = await sendReply(ot, { contactId: wa.contact.id, text: 'Hello' }, { modules: mods, channels, now: clock });
    expect(retried).toMatchObject({ duplicate: false, providerMessageId: 'whatsapp-out-1' });
    expect(retried.event.id).toBe(failed.id);
    expect(retried.event.data.sendState).toBe('sent');
  });

  test('a window the provider reports closed sends the answer on to the next open channel', async () => {
    const { ot, telegram, modules, channels, wa, clock } = await setup();
    const closed = recordingChannel('whatsapp', () => new OmnithreadError('WINDOW_CLOSED', 'Re-engagement message (131047)'));
    const result = await sendReply(ot, { contactId: wa.contact.id, text: 'Hi' }, { modules: { ...modules, whatsapp: closed.module }, channels, now: clock });
    expect(result).toMatchObject({ channel: 'telegram', providerMessageId: 'telegram-out-1' });
    expect(telegram.sent).toHaveLength(1);
  });

  test('clear errors: nothing to send, unknown message, no settings for the channel', async () => {
    const { ot, modules, channels, wa, tg, clock } = await setup();
    const options = { modules, channels, now: clock };
    await expect(sendReply(ot, { contactId: wa.contact.id, text: '  ' }, options)).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'text' });
    await expect(sendReply(ot, { contactId: wa.contact.id, inReplyTo: 'ev_nope', text: 'x' }, options)).rejects.toMatchObject({ code: 'NOT_FOUND', field: 'inReplyTo' });
    await expect(sendReply(ot, { contactId: tg.contact.id, channel: 'telegram', fallback: false, text: 'x' }, { modules, channels: { whatsapp: channels.whatsapp }, now: clock })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('telegram: no send settings'),
    });
    await expect(sendReply(ot, { contactId: tg.contact.id, text: 'x' }, { modules, channels: { telegram: { token: '' } }, now: clock })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});
