import { OmnithreadError } from '../shared';
import { countRows, describeStores } from './support/stores';
import { account, email, message, phone, scoped } from './support/messages';

describeStores('identity resolution', (ctx) => {
  test('the same email on two channels is one contact, and the explanation says why', async () => {
    const ot = ctx().omnithread();
    const first = await ot.ingest(message([email('Ana@Brightmail.io')], { channel: 'email' }));
    const second = await ot.ingest(message([email('ana@brightmail.io'), phone('+14155550132')], { channel: 'sms' }));
    expect(first.identity?.created).toBe(true);
    expect(second.identity?.created).toBe(false);
    expect(second.contact.id).toBe(first.contact.id);
    expect(second.identity?.steps.find((s) => s.action === 'matched')).toMatchObject({ handle: 'email:ana@brightmail.io', rule: 'email.priority' });
    expect(second.identity?.explanation).toMatch(/^Matched ct_\w+ by email ana@brightmail.io \(channel trust\)\./);
    expect(second.identity?.explanation).toContain('Attached phone +14155550132 (channel)');
    expect(second.contact.identities.map((i) => `${i.kind}:${i.value}`).sort()).toEqual(['email:ana@brightmail.io', 'phone:+14155550132']);
  });

  test('scoped handles only match inside their scope', async () => {
    const ot = ctx().omnithread();
    const botA = await ot.ingest(message([scoped('telegram_user', 'bot-A', '777')], { channel: 'telegram' }));
    const botB = await ot.ingest(message([scoped('telegram_user', 'bot-B', '777')], { channel: 'telegram' }));
    const botAAgain = await ot.ingest(message([scoped('telegram_user', 'bot-A', '777')], { channel: 'telegram' }));
    expect(botB.contact.id).not.toBe(botA.contact.id);
    expect(botAAgain.contact.id).toBe(botA.contact.id);
  });

  test('a scoped handle links two contacts only through a global handle it came with', async () => {
    const ot = ctx().omnithread();
    const viaBotA = await ot.ingest(message([scoped('telegram_user', 'bot-A', '5'), phone('+447911123456')]));
    const viaBotB = await ot.ingest(message([scoped('telegram_user', 'bot-B', '5'), phone('+447911123456')]));
    expect(viaBotB.contact.id).toBe(viaBotA.contact.id);
    expect(viaBotB.contact.identities.filter((i) => i.kind === 'telegram_user').map((i) => i.scope)).toEqual(['bot-A', 'bot-B']);
  });

  test('trap: an unverified typed email matching another contact yields a suggestion, not a merge', async () => {
    const ot = ctx().omnithread();
    const owner = await ot.ingest(message([email('lee@corp.io')], { channel: 'email' }));
    const visitor = await ot.ingest(message([scoped('webchat_visitor', 'site', 'v-1'), email('lee@corp.io', 'asserted')], { channel: 'webchat' }));
    expect(visitor.contact.id).not.toBe(owner.contact.id);
    expect(visitor.identity?.steps.map((s) => s.action)).toEqual(expect.arrayContaining(['weak', 'created', 'suggested']));
    expect(visitor.identity?.explanation).toContain('only with asserted trust; automatic merges need channel');
    const suggestions = await ot.suggestions();
    expect(suggestions).toHaveLength(1);
    expect([...suggestions[0].contactIds].sort()).toEqual([owner.contact.id, visitor.contact.id].sort());
    expect(suggestions[0].evidence).toMatchObject({ handle: 'email:lee@corp.io', messageTrust: 'asserted' });
    // The next typed claim does not add a second suggestion for the same pair.
    await ot.ingest(message([scoped('webchat_visitor', 'site', 'v-1'), email('lee@corp.io', 'asserted')], { channel: 'webchat' }));
    expect(await ot.suggestions()).toHaveLength(1);
    // A real email from the address still goes to its owner.
    const real = await ot.ingest(message([email('lee@corp.io')], { channel: 'email' }));
    expect(real.contact.id).toBe(owner.contact.id);
  });

  test('accepting a suggestion merges; dismissing closes it', async () => {
    const ot = ctx().omnithread();
    const a = await ot.ingest(message([email('kim@corp.io')]));
    const b = await ot.ingest(message([scoped('webchat_visitor', 's', 'v9'), email('kim@corp.io', 'asserted')]));
    const [suggestion] = await ot.suggestions({ contactId: b.contact.id });
    const merge = await ot.acceptSuggestion(suggestion.id, { actor: 'agent:sam' });
    expect(merge).toMatchObject({ survivorId: a.contact.id, mergedId: b.contact.id, rule: 'suggestion', actor: 'agent:sam' });
    expect((await ot.getContact(b.contact.id)).id).toBe(a.contact.id);
    expect(await ot.suggestions()).toHaveLength(0);
    await expect(ot.acceptSuggestion(suggestion.id)).rejects.toMatchObject({ code: 'CONFLICT' });

    const c = await ot.ingest(message([email('max@corp.io')]));
    await ot.ingest(message([scoped('webchat_visitor', 's', 'v10'), email('max@corp.io', 'asserted')]));
    const [other] = await ot.suggestions({ contactId: c.contact.id });
    expect((await ot.dismissSuggestion(other.id)).status).toBe('dismissed');
    expect(await ot.suggestions({ status: 'dismissed' })).toHaveLength(1);
  });

  test('trap: two people sharing a family phone with different verified emails are not merged', async () => {
    const ot = ctx().omnithread();
    const mum = await ot.ingest(message([phone('+447911123456'), email('mum@family.io', 'verified')], { channel: 'webchat' }));
    const son = await ot.ingest(message([phone('+447911123456'), email('son@family.io', 'verified')], { channel: 'webchat' }));
    expect(son.contact.id).not.toBe(mum.contact.id);
    const conflict = son.identity?.steps.find((s) => s.action === 'conflict');
    expect(conflict).toMatchObject({ rule: 'email.verifiedConflict', contactId: mum.contact.id });
    expect(conflict?.detail).toContain('each holds a different verified email');
    // Both keep the phone; neither gets the other's email.
    expect((await ot.getContact(mum.contact.id)).identities.map((i) => i.value).sort()).toEqual(['+447911123456', 'mum@family.io']);
    expect((await ot.getContact(son.contact.id)).identities.map((i) => i.value).sort()).toEqual(['+447911123456', 'son@family.io']);
    // Each of them signing in again lands on their own contact.
    expect((await ot.ingest(message([phone('+447911123456'), email('mum@family.io', 'verified')]))).contact.id).toBe(mum.contact.id);
    // The phone alone is ambiguous: it goes to whoever used it last, and the explanation says so.
    const phoneOnly = await ot.ingest(message([phone('+447911123456')], { channel: 'sms' }));
    expect(phoneOnly.contact.id).toBe(mum.contact.id);
    expect(phoneOnly.identity?.steps.find((s) => s.action === 'ambiguous')?.detail).toContain('held by 2 separate contacts');
  });

  test('trap: shared mailboxes and placeholder values link nobody', async () => {
    const ot = ctx().omnithread({ rules: { sharedMailboxes: ['frontdesk@hotel.io'] } });
    const placeholders = [[email('test@example.com')], [phone('0000000000')], [account('null')], [{ kind: 'email' as const, value: 'null', trust: 'channel' as const }]];
    const contacts = new Set<string>();
    for (const handles of placeholders) {
      for (let i = 0; i < 2; i++) {
        const result = await ot.ingest(message(handles));
        expect(result.identity?.created).toBe(true);
        expect(result.identity?.steps[0].action).toBe('skipped');
        expect(result.contact.identities).toEqual([]);
        contacts.add(result.contact.id);
      }
    }
    // A shared mailbox is kept on the contact, marked shared, and still links nobody: two messages, two contacts.
    for (let i = 0; i < 2; i++) {
      const result = await ot.ingest(message([email('frontdesk@hotel.io')]));
      expect(result.identity?.created).toBe(true);
      expect(result.identity?.steps[0]).toMatchObject({ action: 'shared', rule: 'email.shared' });
      expect(result.contact.identities).toMatchObject([{ value: 'frontdesk@hotel.io', shared: 'a shared mailbox (listed in the store settings)' }]);
      contacts.add(result.contact.id);
    }
    expect(contacts.size).toBe(placeholders.length * 2 + 2);
    // A placeholder next to a real handle is ignored, the real handle still links.
    const real = await ot.ingest(message([email('rosa@corp.io')]));
    const withPlaceholder = await ot.ingest(message([email('rosa@corp.io'), phone('0000000000'), account('anonymous')]));
    expect(withPlaceholder.contact.id).toBe(real.contact.id);
    expect(withPlaceholder.contact.identities.map((i) => i.value)).toEqual(['rosa@corp.io']);
  });

  test('account ids are unique: two different accounts never merge', async () => {
    const ot = ctx().omnithread();
    const one = await ot.ingest(message([account('cust-1'), email('shared.inbox@corp.io')]));
    const two = await ot.ingest(message([account('cust-2'), email('shared.inbox@corp.io')]));
    expect(two.contact.id).not.toBe(one.contact.id);
    expect(two.identity?.steps.find((s) => s.action === 'conflict')).toMatchObject({ rule: 'account.limit' });
    // Nor by a manual-free path: a message carrying both ids links nothing further.
    const both = await ot.ingest(message([account('cust-1'), account('cust-2')]));
    expect([one.contact.id, two.contact.id]).toContain(both.contact.id);
    expect(both.identity?.merges).toEqual([]);
  });

  test('a message linking two contacts strongly merges them: the older survives, logged with its evidence', async () => {
    const ot = ctx().omnithread();
    const byEmail = await ot.ingest(message([email('zoe@corp.io')], { channel: 'email' }));
    const byPhone = await ot.ingest(message([phone('+14155550177')], { channel: 'sms' }));
    const linking = await ot.ingest(message([phone('+14155550177'), email('zoe@corp.io')], { channel: 'whatsapp' }));
    expect(linking.contact.id).toBe(byEmail.contact.id);
    expect(linking.identity?.merges).toHaveLength(1);
    expect(linking.identity?.merges?.[0]).toMatchObject({ survivorId: byEmail.contact.id, mergedId: byPhone.contact.id, rule: 'auto:phone', actor: 'omnithread' });
    expect(linking.identity?.explanation).toContain(`Merged ${byPhone.contact.id} into ${byEmail.contact.id}`);
    expect(linking.contact.mergedContactIds).toEqual([byPhone.contact.id]);
    const log = await ot.mergeLog(byPhone.contact.id);
    expect(log).toHaveLength(1);
    expect(log[0].evidence).toMatchObject({ handle: 'phone:+14155550177', trust: 'channel' });
  });

  test('the auto-merge trust threshold is configurable', async () => {
    const strict = ctx().omnithread({ rules: { autoMergeTrust: 'verified' } });
    const a = await strict.ingest(message([email('ivy@corp.io')]));
    const b = await strict.ingest(message([email('ivy@corp.io', 'channel')]));
    expect(b.contact.id).not.toBe(a.contact.id);
    expect(await strict.suggestions()).toHaveLength(1);
    const c = await strict.ingest(message([email('ivy@corp.io', 'verified')]));
    // Stored trust counts too: the earlier handle was only channel-trusted, so still a suggestion.
    expect(c.identity?.steps.some((s) => s.action === 'weak')).toBe(true);
    const lenient = ctx().omnithread({ rules: { autoMergeTrust: 'asserted' } });
    const d = await lenient.ingest(message([email('ivy@corp.io')]));
    const e = await lenient.ingest(message([email('ivy@corp.io', 'asserted')]));
    expect(e.contact.id).toBe(d.contact.id);
  });

  test('the per-kind limit keeps extra values off a contact', async () => {
    const ot = ctx().omnithread({ rules: { kinds: { email: { limit: 2 } } } });
    await ot.ingest(message([phone('+14155550188'), email('one@corp.io'), email('two@corp.io')]));
    const third = await ot.ingest(message([phone('+14155550188'), email('three@corp.io')]));
    const step = third.identity?.steps.find((s) => s.action === 'limit');
    expect(step).toMatchObject({ handle: 'email:three@corp.io', rule: 'email.limit' });
    expect(third.contact.identities.filter((i) => i.kind === 'email')).toHaveLength(2);
  });

  test('priority decides: the strongest matching kind picks the contact when another is contradicted', async () => {
    const ot = ctx().omnithread();
    const customer = await ot.ingest(message([account('acc-9'), email('pat@corp.io')]));
    const other = await ot.ingest(message([account('acc-10'), phone('+14155550199')]));
    // The account (priority 10) beats the phone (priority 30); the phone's contact has another account.
    const result = await ot.ingest(message([phone('+14155550199'), account('acc-9')]));
    expect(result.contact.id).toBe(customer.contact.id);
    expect(result.identity?.steps.find((s) => s.action === 'conflict')).toMatchObject({ contactId: other.contact.id, rule: 'account.limit' });
  });

  test('trust only goes up, and last seen moves on', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const ot = ctx().omnithread({ clock: () => now });
    await ot.ingest(message([scoped('webchat_visitor', 's', 'v1'), email('noa@corp.io', 'asserted')]));
    now += 60_000;
    const verified = await ot.ingest(message([scoped('webchat_visitor', 's', 'v1'), email('noa@corp.io', 'verified')]));
    now += 60_000;
    const again = await ot.ingest(message([scoped('webchat_visitor', 's', 'v1'), email('noa@corp.io', 'asserted')]));
    expect(again.contact.id).toBe(verified.contact.id);
    const mail = again.contact.identities.find((i) => i.kind === 'email')!;
    expect(mail.trust).toBe('verified');
    expect(mail.lastSeenAt).toBe('2026-01-01T00:02:00.000Z');
    expect(mail.firstSeenAt).toBe('2026-01-01T00:00:00.000Z');
  });

  test('unmerge restores contacts, identities and events exactly', async () => {
    const ot = ctx().omnithread();
    const a = await ot.ingest(message([email('eli@corp.io')], { channel: 'email', text: 'from email' }));
    await ot.ingest(message([email('eli@corp.io')], { channel: 'email', text: 'second email' }));
    const b = await ot.ingest(message([phone('+14155550111'), scoped('whatsapp_id', 'waba-1', '14155550111')], { channel: 'whatsapp', text: 'from whatsapp' }));
    await ot.appendEvent(b.contact.id, { kind: 'note', text: 'VIP' });
    const snapshot = async (id: string) => ({
      contact: await ot.getContact(id),
      timeline: await ot.timeline(id),
      conversations: await ot.conversations(id),
    });
    const beforeA = await snapshot(a.contact.id);
    const beforeB = await snapshot(b.contact.id);

    const merge = await ot.merge(b.contact.id, a.contact.id, { actor: 'agent:jo', reason: 'customer confirmed on the phone' });
    expect(merge).toMatchObject({ survivorId: a.contact.id, mergedId: b.contact.id, rule: 'manual', actor: 'agent:jo' });
    const merged = await snapshot(b.contact.id);
    expect(merged.contact.id).toBe(a.contact.id);
    expect(merged.contact.identities).toHaveLength(3);
    expect(merged.timeline.events.map((e) => e.text)).toEqual(expect.arrayContaining(['from email', 'second email', 'from whatsapp', 'VIP']));
    expect(merged.timeline.events.some((e) => e.kind === 'merge')).toBe(true);
    expect(merged.conversations).toHaveLength(2);

    const undone = await ot.unmerge({ contactId: b.contact.id }, { actor: 'agent:jo' });
    expect(undone.undoneBy).toBe('agent:jo');
    expect(undone.undoneAt).not.toBeNull();
    const afterA = await snapshot(a.contact.id);
    const afterB = await snapshot(b.contact.id);
    const stable = (s: typeof beforeA) => ({ ...s, contact: { ...s.contact, updatedAt: undefined } });
    expect(stable(afterA)).toEqual(stable(beforeA));
    expect(stable(afterB)).toEqual(stable(beforeB));
    // The merge log keeps the history.
    expect((await ot.mergeLog(a.contact.id)).map((m) => [m.id, m.undoneBy])).toEqual([[merge.id, 'agent:jo']]);
    await expect(ot.unmerge({ mergeId: merge.id })).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  test('unmerging a contact that had others merged into it brings them along', async () => {
    const ot = ctx().omnithread();
    const a = await ot.ingest(message([email('a1@corp.io')]));
    const b = await ot.ingest(message([email('b1@corp.io')]));
    const c = await ot.ingest(message([email('c1@corp.io')]));
    await ot.merge(b.contact.id, c.contact.id); // c into b
    const outer = await ot.merge(a.contact.id, b.contact.id); // b (with c) into a
    expect((await ot.getContact(c.contact.id)).id).toBe(a.contact.id);
    await ot.unmerge({ mergeId: outer.id });
    expect((await ot.getContact(c.contact.id)).id).toBe(b.contact.id);
    expect((await ot.getContact(b.contact.id)).identities.map((i) => i.value).sort()).toEqual(['b1@corp.io', 'c1@corp.io']);
    expect((await ot.getContact(a.contact.id)).identities.map((i) => i.value)).toEqual(['a1@corp.io']);
  });

  test('manual merge and unmerge refuse what makes no sense, with clear errors', async () => {
    const ot = ctx().omnithread();
    const a = await ot.ingest(message([email('x1@corp.io')]));
    await expect(ot.merge(a.contact.id, a.contact.id)).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(ot.merge(a.contact.id, 'ct_missing')).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('ct_missing') });
    await expect(ot.unmerge({ contactId: a.contact.id })).rejects.toBeInstanceOf(OmnithreadError);
    await expect(ot.getContact('ct_nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  test('resolve without a message: find, link or create, and a dry run writes nothing', async () => {
    const ot = ctx().omnithread();
    const before = await countRows(ctx().store);
    const dry = await ot.resolve([email('new@corp.io'), phone('+14155550100')], { dryRun: true, name: 'New Person' });
    expect(dry.created).toBe(true);
    expect(dry.contact.name).toBe('New Person');
    expect(await countRows(ctx().store)).toEqual(before);
    expect(await ot.findContact(email('new@corp.io'))).toBeUndefined();
    const real = await ot.resolve([email('new@corp.io')], { name: 'New Person' });
    expect((await ot.findContact({ kind: 'email', value: 'NEW@corp.io' }))?.id).toBe(real.contactId);
    await expect(ot.resolve([])).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  test('a message with no usable handle continues its thread', async () => {
    const ot = ctx().omnithread();
    const first = await ot.ingest(message([email('thread@corp.io')], { channel: 'email', threadKey: '<root@corp.io>' }));
    const reply = await ot.ingest(message([email('noreply@corp.io')], { channel: 'email', threadKey: '<root@corp.io>' }));
    expect(reply.contact.id).toBe(first.contact.id);
    expect(reply.identity?.steps.map((s) => s.action)).toEqual(['skipped', 'thread']);
    // A thread belongs to one channel account: the same thread key under another account is someone else.
    const elsewhere = await ot.ingest(message([email('noreply@corp.io')], { channel: 'email', channelAccount: 'other-mailbox', threadKey: '<root@corp.io>' }));
    expect(elsewhere.contact.id).not.toBe(first.contact.id);
  });

  test('workspaces never see each other', async () => {
    const one = ctx().omnithread();
    const two = ctx().omnithread();
    const a = await one.ingest(message([email('same@corp.io')]));
    const b = await two.ingest(message([email('same@corp.io')]));
    expect(b.identity?.created).toBe(true);
    await expect(two.getContact(a.contact.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
