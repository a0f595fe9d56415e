/**
 * Identity on the values real support data is full of, on both stores: household landlines, role
 * mailboxes, usernames that change hands, numbers outside libphonenumber's ranges, Brazilian numbers
 * with and without the ninth digit, senders with no usable identity at all.
 */
import { HandleInput } from '../shared';
import { email, message, phone, scoped } from './support/messages';
import { describeStores } from './support/stores';

const LANDLINE = '+442079460958'; // a London fixed line: shared by a household
const call = (from: string, extra = {}) => message([phone(from)], { channel: 'voice', channelAccount: '+441615550100', threadKey: from, kind: 'call', ...extra });

describeStores('shared values never link two people', (ctx) => {
  const gb = () => ctx().omnithread({ rules: { defaultCountry: 'GB' } });

  test("a household landline: its calls go to the number's own contact; a person who holds it is a suggestion, never a merge", async () => {
    const ot = gb();
    const dad = await ot.ingest(call(LANDLINE));
    expect(dad.contact.identities).toMatchObject([{ value: LANDLINE, shared: 'a fixed line, shared by a household or an office (built-in rule shared-phone-lines)' }]);
    expect(dad.identity.steps.map((s) => s.action)).toEqual(['shared', 'created', 'attached']);
    const mum = await ot.ingest(call(LANDLINE));
    expect(mum.contact.id).toBe(dad.contact.id);

    // Maya's CRM record carries her own email and the home number (the sending system vouches for both).
    const maya = await ot.ingest(message([email('maya@fastmail.fm'), phone('020 7946 0958')], { channel: 'generic' }));
    expect(maya.contact.id).not.toBe(dad.contact.id);
    expect(maya.identity.merges).toEqual([]);
    expect(maya.contact.identities.map((i) => [i.value, i.shared ?? null])).toEqual([
      ['maya@fastmail.fm', null],
      [LANDLINE, 'a fixed line, shared by a household or an office (built-in rule shared-phone-lines)'],
    ]);
    const [suggestion] = await ot.suggestions({ contactId: maya.contact.id });
    expect(suggestion.contactIds.sort()).toEqual([dad.contact.id, maya.contact.id].sort());
    expect(suggestion.reason).toMatch(/both use \+442079460958, a fixed line.*link them if it is this person's own line/);

    // The next call from home still goes to the number's contact, not to Maya; a call with no thread too.
    expect((await ot.ingest(call(LANDLINE))).contact.id).toBe(dad.contact.id);
    const noThread = await ot.ingest(message([phone(LANDLINE)], { channel: 'generic' }));
    expect(noThread.contact.id).toBe(dad.contact.id);
    expect(noThread.identity.steps.find((s) => s.action === 'matched')?.detail).toMatch(/carries only the shared number \+442079460958: it goes to that number's own contact/);

    // Her husband's record with the same home number: two people, never linked to each other.
    const leo = await ot.ingest(message([email('leo@fastmail.fm'), phone(LANDLINE)], { channel: 'generic' }));
    expect([dad.contact.id, maya.contact.id]).not.toContain(leo.contact.id);
    const leoSuggestions = await ot.suggestions({ contactId: leo.contact.id });
    expect(leoSuggestions.every((s) => !s.contactIds.includes(maya.contact.id))).toBe(true);

    // Dismissed once, not suggested again.
    await ot.dismissSuggestion(suggestion.id);
    await ot.ingest(message([email('maya@fastmail.fm'), phone(LANDLINE)], { channel: 'generic' }));
    expect(await ot.suggestions({ contactId: maya.contact.id })).toEqual([]);
  });

  test('role mailboxes: two colleagues writing from info@ are two contacts, and their own numbers stay their own', async () => {
    const ot = gb();
    const mail = (thread: string, sig: string) =>
      message([email('info@bakery.example.co.uk'), phone(sig, 'asserted')], { channel: 'email', channelAccount: 'support@shop.io', threadKey: thread });
    const ana = await ot.ingest(mail('<t1@bakery>', '07911 123456'));
    const ben = await ot.ingest(mail('<t2@bakery>', '07981 554433'));
    expect(ben.contact.id).not.toBe(ana.contact.id);
    expect(ana.contact.identities.map((i) => i.value).sort()).toEqual(['+447911123456', 'info@bakery.example.co.uk']);
    expect(ben.contact.identities.map((i) => i.value).sort()).toEqual(['+447981554433', 'info@bakery.example.co.uk']);
  });

  test('usernames change hands: the same name under another bot only suggests; a different person with it is never merged', async () => {
    const ot = gb();
    const user = (bot: string, id: string, name: string): HandleInput[] => [scoped('telegram_user', bot, id), { kind: 'username', scope: 'telegram', value: `@${name}`, trust: 'asserted' }];
    const first = await ot.ingest(message(user('bot-1', '42', 'MayaL'), { channel: 'telegram' }));
    expect(first.contact.identities.find((i) => i.kind === 'username')).toMatchObject({ value: 'mayal', scope: 'telegram', trust: 'asserted' });
    const otherBot = await ot.ingest(message(user('bot-2', '42', 'mayal'), { channel: 'telegram' }));
    expect(otherBot.contact.id).not.toBe(first.contact.id);
    expect(otherBot.identity.steps.find((s) => s.action === 'weak')?.detail).toMatch(/matches .* only with asserted trust/);
    expect(otherBot.identity.suggestionIds).toHaveLength(1);
  });
});

describeStores('numbers as providers give them', (ctx) => {
  test('an SMS and a call from a number outside the listed ranges are one person, and the explanation says why it is less certain', async () => {
    const ot = ctx().omnithread();
    const sms = await ot.ingest(message([phone('+447700900461')], { channel: 'sms', threadKey: '+447700900461' }));
    expect(sms.contact.identities.map((i) => i.value)).toEqual(['+447700900461']);
    expect(sms.identity.explanation).toMatch(/not in a range libphonenumber lists as assigned; kept, as its sender gave it, with lower confidence/);
    const voice = await ot.ingest(call('+447700900461'));
    expect(voice.contact.id).toBe(sms.contact.id);
  });

  test('a Brazilian line on WhatsApp (12-digit wa_id) and by SMS (13 digits) is one person', async () => {
    const ot = ctx().omnithread();
    const wa = await ot.ingest(message([phone('552188764321'), scoped('whatsapp_id', 'waba-1', '552188764321')], { channel: 'whatsapp' }));
    const sms = await ot.ingest(message([phone('+5521988764321')], { channel: 'sms' }));
    expect(sms.contact.id).toBe(wa.contact.id);
    expect(wa.identity.explanation).toMatch(/written without its ninth digit: recorded as \+5521988764321/);
  });

  test('a sender with no usable identity joins the contact of its thread, never a new empty contact per message', async () => {
    const ot = ctx().omnithread();
    const withheld = [{ kind: 'external_id' as const, scope: 'twilio', value: 'anonymous', trust: 'channel' as const }];
    const callMessage = await ot.ingest(message(withheld, { channel: 'voice', kind: 'call', threadKey: 'call:CA1' }));
    const transcription = await ot.ingest(message(withheld, { channel: 'voice', threadKey: 'call:CA1', text: 'Hi, this is Dan about order 118' }));
    expect(transcription.contact.id).toBe(callMessage.contact.id);
    expect(transcription.identity.steps.map((s) => s.action)).toEqual(['skipped', 'thread']);
    const otherCall = await ot.ingest(message(withheld, { channel: 'voice', kind: 'call', threadKey: 'call:CA2' }));
    expect(otherCall.contact.id).not.toBe(callMessage.contact.id);
  });
});
