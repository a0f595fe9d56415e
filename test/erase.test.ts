import { readFileSync, existsSync } from 'node:fs';
import { SqliteDriver } from '../shared/store';
import { needlesFor, redactJson, redactText } from '../shared/facade/scrub';
import { describeStores, dumpAllRows } from './support/stores';
import { email, message, phone, scoped } from './support/messages';

describeStores('export and erase (right to be forgotten)', (ctx) => {
  test('export holds everything; after erase nothing of the person is anywhere in the database', async () => {
    const ot = ctx().omnithread({ rules: { defaultCountry: 'US' } });
    const tag = `q${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;
    const secrets = {
      name: `Ingrid ${tag}`,
      email: `ingrid.${tag}@mailbox.io`,
      alias: `alias.${tag}@mailbox.io`,
      telegram: `tg${tag}`,
      text: `my card ending ${tag} was charged twice`,
      raw: `raw-payload-${tag}`,
      note: `note about ${tag}`,
      outbound: `reply mentioning ${tag}`,
      thread: `<thread-${tag}@mailbox.io>`,
      providerId: `provider-${tag}`,
      custom: `order-${tag}`,
    };
    const phoneNumber = '+1415555' + String(1000 + Math.floor(Math.random() * 8999));

    const first = await ot.ingest(
      message([email(secrets.email), phone(phoneNumber)], {
        channel: 'email',
        providerMessageId: secrets.providerId,
        threadKey: secrets.thread,
        text: secrets.text,
        raw: { body: secrets.raw },
        from: { name: secrets.name, handles: [email(secrets.email), phone(phoneNumber)] },
      }),
    );
    const id = first.contact.id;
    const second = await ot.ingest(message([scoped('telegram_user', 'bot', secrets.telegram), email(secrets.alias)], { channel: 'telegram', text: 'second contact' }));
    await ot.merge(id, second.contact.id, { reason: `same person ${tag}` });
    await ot.appendEvent(id, { kind: 'note', text: secrets.note });
    await ot.appendEvent(id, { kind: 'order_placed', data: { orderId: secrets.custom } });
    await ot.recordOutbound(id, { channel: 'email', text: secrets.outbound, providerMessageId: `out-${tag}` });
    // Somebody else typed this person's email in a chat (a claim), and shares no other value; their
    // message names her email (in capitals) and her number as people write it, and so does its raw payload.
    const national = `(${phoneNumber.slice(2, 5)}) ${phoneNumber.slice(5, 8)}-${phoneNumber.slice(8)}`;
    const typed = `keep text ${tag}-x: I am writing for ${secrets.email.toUpperCase()}, her number is ${national}`;
    const other = await ot.ingest(
      message([scoped('webchat_visitor', 'site', `keep-${tag}`), email(secrets.email, 'asserted')], { text: typed, raw: { form: { message: typed, contact: secrets.email, phone: `+1 ${national}` } } }),
    );
    expect(await ot.suggestions({ contactId: id })).toHaveLength(1);

    const exported = await ot.exportContact(id);
    const exportText = JSON.stringify(exported);
    for (const value of [...Object.values(secrets), phoneNumber]) expect(exportText).toContain(value);
    expect(exported.records.map((r) => r.id).sort()).toEqual([id, second.contact.id].sort());
    expect(exported.merges).toHaveLength(1);
    expect(exported.events.filter((e) => e.kind === 'message')).toHaveLength(3);
    expect(exported.suggestions).toHaveLength(1);

    const sqlitePath = ctx().kind === 'sqlite' ? (ctx().config as { path: string }).path : undefined;
    const fileBytes = () =>
      ['', '-wal', '-shm']
        .map((suffix) => sqlitePath + suffix)
        .filter(existsSync)
        .map((file) => readFileSync(file).toString('latin1'))
        .join('');
    if (sqlitePath) for (const value of [secrets.text, secrets.email, secrets.name]) expect(fileBytes().includes(value)).toBe(true);

    const report = await ot.eraseContact(second.contact.id); // any id of the person erases all of them
    expect(report.contactId).toBe(id);
    expect(report.erasedContactIds.sort()).toEqual([id, second.contact.id].sort());
    expect(report.deleted).toMatchObject({ contacts: 2, handles: 4, claimsByOthers: 1, merges: 1, suggestions: 1, conversations: 2 });
    expect(report.sharedHandlesKept).toBe(0);
    expect(report.scrubbed).toEqual({ events: 1 });
    expect(report.purge).toMatchObject({ complete: true });

    const rows = await dumpAllRows(ctx().store);
    const forbidden = [...Object.values(secrets), secrets.email.toUpperCase(), national, phoneNumber, id, second.contact.id];
    for (const row of rows) for (const value of forbidden) if (row.text.includes(value)) throw new Error(`${value} survived in ${row.table}: ${row.text}`);
    // The other person is untouched, apart from the claim on the erased person's email.
    const otherAfter = await ot.getContact(other.contact.id);
    expect(otherAfter.identities.map((i) => i.value)).toEqual([`keep-${tag}`]);
    expect(rows.some((r) => r.text.includes(`keep text ${tag}-x: I am writing for [erased], her number is [erased]`))).toBe(true);

    await expect(ot.getContact(id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // A late redelivery of an erased person's message does not bring them back.
    await expect(ot.ingest(message([email(secrets.email)], { channel: 'email', providerMessageId: secrets.providerId }))).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    expect(await ot.findContact(email(secrets.email))).toBeUndefined();

    if (sqlitePath) {
      // secure_delete zeroes deleted content and erase checkpoints the WAL: already gone from the files...
      for (const value of forbidden) expect(fileBytes().includes(value)).toBe(false);
      // ...and after VACUUM too.
      await (ctx().store.driver as SqliteDriver).vacuum();
      const bytes = fileBytes();
      for (const value of forbidden) expect(bytes.includes(value)).toBe(false);
      expect(bytes.includes(`keep text ${tag}-x`)).toBe(true);
    }
  });

  test('a value the other contact uses itself (a shared phone) is kept for them and reported', async () => {
    const ot = ctx().omnithread();
    const mum = await ot.ingest(message([phone('+447911123450'), email('mum.e@family.io', 'verified')]));
    const son = await ot.ingest(message([phone('+447911123450'), email('son.e@family.io', 'verified')], { text: 'call me on 07911 123450, or ask mum.e@family.io' }));
    const report = await ot.eraseContact(mum.contact.id);
    expect(report.sharedHandlesKept).toBe(1);
    expect((await ot.getContact(son.contact.id)).identities.map((i) => i.value).sort()).toEqual(['+447911123450', 'son.e@family.io']);
    const rows = await dumpAllRows(ctx().store);
    expect(rows.some((r) => r.text.includes('mum.e@family.io'))).toBe(false);
    // The number is the son's too: his message keeps it; the mother's own email goes.
    expect(rows.some((r) => r.text.includes('call me on 07911 123450, or ask [erased]'))).toBe(true);
    expect(report.scrubbed).toEqual({ events: 1 });
  });
});

describe('scrubbing values from text and payloads', () => {
  const needles = needlesFor([
    { kind: 'email', value: 'maya.k@fastmail.fm' },
    { kind: 'phone', value: '+447911123456' },
    { kind: 'telegram_user', value: '5123456789' },
    { kind: 'account', value: '42' }, // too short to find safely as a token: left alone
  ]);

  test.each([
    ['Write to Maya.K@Fastmail.FM please', 'Write to [erased] please'],
    ['+44 7911 123456', '[erased]'],
    ['call 07911 123456 after 5', 'call [erased] after 5'],
    ['07911-123-456 or 07911.123.456', '[erased] or [erased]'],
    ['+44 (0)7911 123456', '[erased]'],
    ['wa_id 447911123456, intl 0044 7911 123456', 'wa_id [erased], intl [erased]'],
    ['another number: +44 7911 123457', 'another number: +44 7911 123457'],
    ['order 17911123456 is not her', 'order 17911123456 is not her'],
    ['user 5123456789 joined; 51234567890 did not', 'user [erased] joined; 51234567890 did not'],
    ['answer 42', 'answer 42'],
  ])('%s', (text, expected) => {
    expect(redactText(text, needles)).toBe(expected);
  });

  test('every string of a payload, keys included', () => {
    expect(redactJson({ from: { id: 5123456789, username: 'maya' }, contacts: { '+447911123456': { email: 'maya.k@fastmail.fm' } }, n: 3 }, needles)).toEqual({
      from: { id: '[erased]', username: 'maya' }, // Telegram's ids are JSON numbers
      contacts: { '[erased]': { email: '[erased]' } },
      n: 3,
    });
  });
});
