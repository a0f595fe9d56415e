import { OmnithreadError, compileRules, normalizeEmail, normalizeHandles, normalizePhone } from '../shared';

const defaults = compileRules({});

describe('email normalisation', () => {
  test('trims and lower-cases', () => {
    expect(normalizeEmail('  Jane.Doe@ACME.io ', defaults.email)).toBe('jane.doe@acme.io');
    expect(normalizeEmail('mailto:Jane@acme.io', defaults.email)).toBe('jane@acme.io');
  });
  test('keeps plus-tags and Gmail dots unless asked', () => {
    expect(normalizeEmail('j.ane+news@gmail.com', defaults.email)).toBe('j.ane+news@gmail.com');
    expect(normalizeEmail('j.ane+news@gmail.com', { stripPlusTags: true, gmailDots: false })).toBe('j.ane@gmail.com');
    expect(normalizeEmail('j.ane+news@googlemail.com', { stripPlusTags: true, gmailDots: true })).toBe('jane@gmail.com');
    // Dots matter outside Gmail.
    expect(normalizeEmail('j.ane@acme.io', { stripPlusTags: true, gmailDots: true })).toBe('j.ane@acme.io');
  });
  test('rejects what is not an address', () => {
    expect(normalizeEmail('jane', defaults.email)).toBeUndefined();
    expect(normalizeEmail('jane@localhost', defaults.email)).toBeUndefined();
  });
});

describe('phone normalisation (libphonenumber-js)', () => {
  test('E.164 with a default country for national numbers', () => {
    expect(normalizePhone('07911 123456', { defaultCountry: 'GB' })).toBe('+447911123456');
    expect(normalizePhone('(415) 555-0132', { defaultCountry: 'US' })).toBe('+14155550132');
    expect(normalizePhone('+44 7911 123456', {})).toBe('+447911123456');
  });
  test('accepts provider forms: no plus (WhatsApp wa_id), tel: and whatsapp: prefixes', () => {
    expect(normalizePhone('447911123456', {})).toBe('+447911123456');
    expect(normalizePhone('whatsapp:+14155550132', {})).toBe('+14155550132');
    expect(normalizePhone('tel:+14155550132', {})).toBe('+14155550132');
  });
  test('a national number without a default country is not guessed', () => {
    expect(normalizePhone('07911 123456', {})).toBeUndefined();
  });
});

describe('blocked values', () => {
  test.each([
    ['email', 'test@example.com'],
    ['email', 'noreply@shop.io'],
    ['email', 'someone@mail.invalid'],
    ['email', 'null'],
    ['phone', '0000000000'],
    ['phone', '+1 111 111 1111'],
    ['account', 'null'],
    ['account', 'anonymous'],
    ['account', '0'],
    ['account', '----'],
    ['webchat_visitor', 'undefined'],
  ] as const)('%s %s links nobody', (kind, value) => {
    const handle = kind === 'webchat_visitor' ? { kind, value, scope: 'site' } : { kind, value };
    const { handles, skipped } = normalizeHandles([handle], compileRules({ defaultCountry: 'US' }));
    expect(handles).toEqual([]);
    expect(skipped).toHaveLength(1);
    expect(skipped[0].reason).toMatch(/placeholder|not a valid/);
  });

  test('user values and patterns are blocked, shared mailboxes are kept as shared; the built-in list can be switched off', () => {
    const rules = compileRules({
      sharedMailboxes: ['Frontdesk@Hotel.io'],
      blocked: { account: { values: ['guest-account'], patterns: ['^tmp-'] } },
    });
    const { handles, skipped } = normalizeHandles(
      [
        { kind: 'email', value: 'frontdesk@hotel.io' },
        { kind: 'account', value: 'guest-account' },
        { kind: 'account', value: 'tmp-991' },
        { kind: 'account', value: 'cust-1' },
      ],
      rules,
    );
    expect(handles.map((h) => [h.value, h.shared ?? null])).toEqual([
      ['frontdesk@hotel.io', 'a shared mailbox (listed in the store settings)'],
      ['cust-1', null],
    ]);
    expect(skipped.map((s) => s.reason)).toEqual(['listed as a blocked value', 'matches the blocked pattern /^tmp-/i']);
    const open = compileRules({ builtInBlocklist: false });
    expect(normalizeHandles([{ kind: 'account', value: 'anonymous' }], open).handles).toHaveLength(1);
  });

  test('duplicates fold into one handle with the highest trust', () => {
    const { handles } = normalizeHandles(
      [
        { kind: 'email', value: 'Jane@acme.io', trust: 'asserted' },
        { kind: 'email', value: 'jane@acme.io ', trust: 'verified' },
        { kind: 'email', value: 'JANE@ACME.IO', trust: 'channel' },
      ],
      defaults,
    );
    expect(handles).toEqual([{ kind: 'email', value: 'jane@acme.io', scope: '', trust: 'verified' }]);
  });

  test('scoped handles keep their scope', () => {
    const { handles } = normalizeHandles([{ kind: 'telegram_user', scope: 'bot-1', value: ' 42 ', trust: 'channel' }], defaults);
    expect(handles).toEqual([{ kind: 'telegram_user', scope: 'bot-1', value: '42', trust: 'channel' }]);
  });
});

describe('rules validation', () => {
  test.each([
    [{ defaultCountry: 'XX' }, 'defaultCountry'],
    [{ autoMergeTrust: 'maybe' }, 'autoMergeTrust'],
    [{ kinds: { email: { limit: 0 } } }, 'kinds.email.limit'],
    [{ kinds: { fax: { limit: 1 } } }, 'kinds'],
    [{ blocked: { email: { patterns: ['(unclosed'] } } }, 'blocked.email.patterns.0'],
  ])('%j is refused naming %s', (input, field) => {
    let error: OmnithreadError | undefined;
    try {
      compileRules(input as never);
    } catch (e) {
      error = e as OmnithreadError;
    }
    expect(error?.code).toBe('INVALID_INPUT');
    expect(error?.field).toBe(field);
  });

  test('overrides merge with the defaults', () => {
    const rules = compileRules({ kinds: { email: { limit: 2 } }, defaultCountry: 'gb' });
    expect(rules.kinds.email).toEqual({ priority: 20, limit: 2, verifiedConflict: true });
    expect(rules.kinds.account.limit).toBe(1);
    expect(rules.defaultCountry).toBe('GB');
  });
});
