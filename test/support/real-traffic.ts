/**
 * Real traffic, replayed through an engine's real webhook path: the deliveries of
 * test/channels/fixtures/real/ (written from the providers' documentation and real captures, each file's
 * source in that folder's README), in the order a day of support would bring them, with the answer each
 * must get; then what the store must hold. Both engines' tests replay the same list and run the same
 * checks, so n8n and Node-RED are held to one behaviour.
 *
 * The people: Joana (Brazil) on Telegram (private chat, an edit, a reply, a button, her phone shared),
 * WhatsApp (her 12-digit wa_id, an edit, a reply, a read receipt), SMS and a call from the 13-digit form
 * of the same number, Messenger (a colleague answers her from the page inbox; read and delivery
 * watermarks; she edits a message), and X; Dan texting from a number outside libphonenumber's ranges and
 * calling with his number withheld (his voicemail transcribed); a call from a London landline; Dana on
 * WhatsApp with a username. Telegram group messages arrive too, with groups off.
 */
import { Omnithread, Store, createOmnithread } from '../../shared';
import { ChannelDelivery, meta, telegram, twilio, x } from './channel-deliveries';

const BOT = '7412305518';
const WABA = '102290129340398';
const PAGE = '108451238954712';
const JOANA_PSID = '7349120586214738';
const OUR_WHATSAPP_REPLY = 'wamid.HBgMNTUyMTg4NzY0MzIxFQIAERgSRkNENkE2NTM2RkM2MkQ1RENGAA==';

/** When the replay runs (the nodes' clock): after the last delivery's own time (Twilio's carry none). */
export const REPLAY_CLOCK = '2026-11-25T14:00:00Z';

export interface RealStep {
  name: string;
  delivery: ChannelDelivery;
  /** The webhook's answer body (matched as a subset). */
  answer: Record<string, unknown>;
  /** Done before the delivery, on the store: what the flow had done by then (our WhatsApp reply). */
  before?: (ot: Omnithread) => Promise<void>;
}

const real = (path: string) => `real/${path}`;

export const REAL_TRAFFIC: RealStep[] = [
  { name: 'telegram private text', delivery: telegram(real('telegram/private-text.json'), BOT), answer: { received: 1, recorded: 1, duplicates: 0 } },
  { name: 'telegram edit of it', delivery: telegram(real('telegram/private-edited.json'), BOT), answer: { received: 1, recorded: 0, edited: 1 } },
  { name: 'telegram edit redelivered', delivery: telegram(real('telegram/private-edited.json'), BOT), answer: { received: 1, recorded: 0, duplicates: 1 } },
  { name: 'telegram reply to the bot', delivery: telegram(real('telegram/private-reply.json'), BOT), answer: { received: 1, recorded: 1 } },
  { name: 'telegram button pressed', delivery: telegram(real('telegram/callback-query.json'), BOT), answer: { received: 1, recorded: 1 } },
  { name: 'telegram group, groups off', delivery: telegram(real('telegram/group-text.json'), BOT), answer: { received: 0, recorded: 0 } },
  { name: 'telegram supergroup, groups off', delivery: telegram(real('telegram/supergroup-text.json'), BOT), answer: { received: 0, recorded: 0 } },
  { name: 'telegram phone shared', delivery: telegram(real('telegram/contact-shared.json'), BOT), answer: { received: 1, recorded: 1 } },
  // A second Telegram trigger of the same bot with groups on: the group is a party of its own.
  { name: 'telegram group, groups on', delivery: telegram(real('telegram/group-text.json'), BOT, { groups: 'true' }), answer: { received: 1, recorded: 1 } },
  { name: 'whatsapp 12-digit Brazilian wa_id', delivery: meta('whatsapp', real('whatsapp/brazil-old-number.json'), ''), answer: { received: 1, recorded: 1 } },
  { name: 'whatsapp redelivered', delivery: meta('whatsapp', real('whatsapp/brazil-old-number.json'), ''), answer: { received: 1, recorded: 0, duplicates: 1 } },
  { name: 'whatsapp edit (of a message not seen)', delivery: meta('whatsapp', real('whatsapp/edited.json'), ''), answer: { received: 1, recorded: 1 } },
  {
    name: 'whatsapp read receipt of our reply',
    delivery: meta('whatsapp', real('whatsapp/status-read.json'), ''),
    answer: { received: 0, recorded: 0, statuses: { recorded: 1, duplicates: 0, unknown: 0 } },
    // The flow answered her on WhatsApp (the Reply node records the provider's id of what it sent).
    before: async (ot) => {
      const joana = await ot.findContact({ kind: 'whatsapp_id', scope: WABA, value: '552188764321' });
      await ot.recordOutbound(joana!.id, {
        channel: 'whatsapp',
        channelAccount: '106540352242922',
        providerMessageId: OUR_WHATSAPP_REPLY,
        text: 'Podemos reenviar o pedido 44719?',
        sentAt: '2026-11-24T15:10:00Z',
      });
    },
  },
  { name: 'whatsapp reply to it', delivery: meta('whatsapp', real('whatsapp/reply-context.json'), ''), answer: { received: 1, recorded: 1 } },
  { name: 'sms from the 13-digit number', delivery: twilio('sms', real('twilio/sms-brazil.json')), answer: {} },
  { name: 'call from the same number', delivery: twilio('voice', real('twilio/call-incoming.json')), answer: {} },
  { name: 'messenger: a colleague answers from the page inbox', delivery: meta('messenger', real('messenger/echo.json'), ''), answer: { received: 1, recorded: 0, outbound: 1 } },
  { name: 'messenger read watermark', delivery: meta('messenger', real('messenger/read-watermark.json'), ''), answer: { received: 0, statuses: { recorded: 1, duplicates: 0, unknown: 0 } } },
  { name: 'messenger delivery watermark', delivery: meta('messenger', real('messenger/delivery-watermark.json'), ''), answer: { received: 0, statuses: { recorded: 1, duplicates: 0, unknown: 0 } } },
  { name: 'messenger edit (of a message not seen)', delivery: meta('messenger', real('messenger/message-edit.json'), ''), answer: { received: 1, recorded: 1 } },
  { name: 'instagram seen, of nothing we sent', delivery: meta('instagram', real('instagram/read.json'), ''), answer: { received: 0, statuses: { recorded: 0, duplicates: 0, unknown: 1 } } },
  { name: "sms from a number outside libphonenumber's ranges", delivery: twilio('sms', real('twilio/sms-unlisted-range.json')), answer: {} },
  { name: 'call with the number withheld', delivery: twilio('voice', real('twilio/call-anonymous.json')), answer: {} },
  { name: 'its voicemail transcribed', delivery: twilio('voice', real('twilio/transcription.json')), answer: {} },
  { name: 'call from a London landline', delivery: twilio('voice', real('twilio/call-landline.json')), answer: {} },
  { name: 'x direct message', delivery: x(real('x/dm-with-users.json')), answer: { received: 1, recorded: 1 } },
  { name: 'whatsapp user with a username', delivery: meta('whatsapp', real('whatsapp/text-with-profile.json'), ''), answer: { received: 1, recorded: 1 } },
];

/** Twilio answers TwiML, not our JSON: those steps check the store instead. */
export const isTwiml = (step: RealStep): boolean => step.delivery.channel === 'sms' || step.delivery.channel === 'voice';

const keyOf = (i: { kind: string; scope: string | null; value: string }) => `${i.kind}:${i.scope ? `${i.scope}:` : ''}${i.value}`;

/** What the store must hold after the replay, whichever engine replayed it. */
export async function expectRealTrafficRecorded(store: Store, workspace: string): Promise<void> {
  const ot = createOmnithread({ store, workspace });
  const joana = (await ot.findContact({ kind: 'telegram_user', scope: BOT, value: '6281430957' }))!;
  // One person across Telegram, WhatsApp, SMS and the phone line: the 12- and 13-digit numbers meet.
  expect(joana.identities.map(keyOf).sort()).toEqual([
    'phone:+5521988764321',
    `telegram_user:${BOT}:6281430957`,
    'username:telegram:joanaribeiro_rj',
    `whatsapp_bsuid:${WABA}:BR.8804123957716204`,
    `whatsapp_id:${WABA}:552188764321`,
  ]);
  for (const handle of [
    { kind: 'phone' as const, value: '+5521988764321' },
    { kind: 'whatsapp_id' as const, scope: WABA, value: '552188764321' },
  ]) {
    expect((await ot.findContact(handle))?.id).toBe(joana.id);
  }
  const events = (await ot.timeline(joana.id, { limit: 200 })).events;
  const kinds = events.filter((e) => ['message', 'call', 'interaction'].includes(e.kind)).map((e) => `${e.kind}/${e.channel}/${e.direction}`);
  expect(kinds.sort()).toEqual(
    [
      'call/voice/inbound',
      'interaction/telegram/inbound',
      'message/sms/inbound',
      'message/telegram/inbound',
      'message/telegram/inbound',
      'message/telegram/inbound',
      'message/whatsapp/inbound',
      'message/whatsapp/inbound',
      'message/whatsapp/inbound',
      'message/whatsapp/outbound',
    ].sort(),
  );
  // The edit replaced the text in place, once; the earlier text is kept; no group message is on her timeline.
  const edited = events.filter((e) => e.channel === 'telegram' && Array.isArray(e.data.edits) && (e.data.edits as unknown[]).length);
  expect(edited).toHaveLength(1);
  expect((edited[0].data.edits as { text: string }[]).length).toBe(1);
  expect(events.some((e) => (e.data.metadata as { chatType?: string } | undefined)?.chatType === 'group')).toBe(false);
  // Her read receipt is on our reply; her WhatsApp reply continues that conversation.
  const ours = events.find((e) => e.providerMessageId === OUR_WHATSAPP_REPLY)!;
  expect(events.find((e) => e.kind === 'status' && e.data.of === ours.id)?.data.status).toBe('read');
  const answer = events.find((e) => (e.data.inReplyTo as string[] | undefined)?.includes(OUR_WHATSAPP_REPLY))!;
  expect(answer.conversationId).toBe(ours.conversationId);
  expect((await ot.transcript(joana.id)).text).toContain('The customer pressed a button: csat:5');

  // Messenger: what a colleague answered in the page inbox is ours, read and delivered by the watermarks.
  const onMessenger = (await ot.findContact({ kind: 'messenger_psid', scope: PAGE, value: JOANA_PSID }))!;
  expect(onMessenger.id).not.toBe(joana.id);
  const messenger = (await ot.timeline(onMessenger.id)).events;
  const echo = messenger.find((e) => e.kind === 'message' && e.direction === 'outbound')!;
  expect(echo.text).toMatch(/^Oi Joana, aqui é a Marta/);
  expect(messenger.filter((e) => e.kind === 'status' && e.data.of === echo.id).map((e) => e.data.status).sort()).toEqual(['delivered', 'read']);
  expect(messenger.find((e) => e.kind === 'message' && e.direction === 'inbound')?.data.editedAt).toBeDefined();

  // Dan: his number is kept although libphonenumber does not list its range.
  const dan = (await ot.findContact({ kind: 'phone', value: '+447700900461' }))!;
  expect(dan.identities.map(keyOf)).toEqual(['phone:+447700900461']);
  // The withheld call and its transcription are one contact (the call's own thread), with no identity.
  const voicemail = await store.driver.read((db) =>
    db.all<{ contact_id: string; kind: string }>(`SELECT contact_id, kind FROM events WHERE workspace = ? AND thread_key = ?`, [workspace, 'call:CA7ff0073b3f371ff2b2cad7880319374a']),
  );
  expect(voicemail.map((r) => r.kind).sort()).toEqual(['call', 'message']);
  expect(new Set(voicemail.map((r) => r.contact_id)).size).toBe(1);
  // The landline is shared: its contact holds it, marked so.
  const home = (await ot.findContact({ kind: 'phone', value: '+442079460321' }))!;
  expect(home.identities).toMatchObject([{ value: '+442079460321', shared: expect.stringMatching(/^a fixed line/) }]);
  // The group, with groups on, is a party of its own: never Joana's private conversation or contact.
  const group = (await ot.findContact({ kind: 'external_id', scope: `telegram:${BOT}`, value: 'group:-4089123456' }))!;
  expect(group).toMatchObject({ name: 'Acme Clientes VIP' });
  expect(group.id).not.toBe(joana.id);
  const groupMessages = (await ot.timeline(group.id, { kinds: ['message'] })).events;
  expect(groupMessages.map((e) => (e.data.metadata as { sender?: { username?: string } }).sender?.username)).toEqual(['joanaribeiro_rj']);
  // Usernames are asserted handles.
  const onX = (await ot.findContact({ kind: 'username', scope: 'x', value: 'joana_rib' }))!;
  expect(onX.identities.find((i) => i.kind === 'username')?.trust).toBe('asserted');
  const dana = (await ot.findContact({ kind: 'username', scope: 'whatsapp', value: 'dana.whitfield' }))!;
  expect(dana.identities.map(keyOf)).toContain('phone:+16505550147');
}
