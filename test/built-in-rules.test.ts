/**
 * Phone numbers and the built-in rules, as real traffic has them: numbers outside the ranges
 * libphonenumber lists, two spellings of one Brazilian or Mexican line, landlines and role mailboxes
 * shared by several people, placeholders typed in every country's format, our own addresses. Every rule
 * can be switched off on its own.
 */
import { BUILT_IN_RULES, BUILT_IN_RULE_IDS, compileRules, isOwnAddress, normalizeHandles, parsePhone, resolveSettings } from '../shared';

const gb = compileRules({ defaultCountry: 'GB' });
const none = compileRules({});
const phoneOf = (raw: string, rules = gb) => normalizeHandles([{ kind: 'phone', value: raw, trust: 'channel' }], rules);

describe('phone numbers a provider vouches for are kept', () => {
  test.each([
    // Ofcom's drama range: real format, not an assigned range (Twilio's From can be anything the carrier sends).
    ['+447700900461', '+447700900461'],
    // Twilio's own magic test number and a +1 555-01xx fictional number in real format are both "possible".
    ['+15005550006', '+15005550006'],
    // A German mobile one digit short of what the metadata lists.
    ['+491511234567', '+491511234567'],
    // A WhatsApp wa_id without "+".
    ['447911123456', '+447911123456'],
    ['whatsapp:+447911123456', '+447911123456'],
    ['0044 7911 123456', '+447911123456'],
  ])('%s -> %s', (raw, e164) => {
    const { handles, skipped } = phoneOf(raw, none);
    expect(skipped).toEqual([]);
    expect(handles.map((h) => h.value)).toEqual([e164]);
  });

  test('a number typed in national format is read in the default country, and kept when possible at its trust', () => {
    const typed = normalizeHandles([{ kind: 'phone', value: '07911 346124', trust: 'asserted' }], gb).handles[0];
    expect(typed).toMatchObject({ value: '+447911346124', trust: 'asserted' });
  });

  test('a number outside the listed ranges is kept with a note: validity only lowers confidence', () => {
    const [handle] = phoneOf('+447700900461').handles;
    expect(handle.notes).toEqual(['+447700900461 is not in a range libphonenumber lists as assigned; kept, as its sender gave it, with lower confidence']);
    expect(handle.trust).toBe('channel');
    expect(phoneOf('+447911123456').handles[0].notes).toBeUndefined();
  });

  test.each([
    ['020 7946 0958', none, 'has no +country code and no default country is set in the store settings'],
    ['12345', gb, 'is too short to be a phone number'],
    ['+44 12345', none, 'is too short to be a phone number'],
    ['+4419283746519283', none, 'is too long to be a phone number'],
    ['+999 8271 6354', none, 'has an unknown country calling code'],
    ['call me maybe', gb, 'is not a phone number'],
  ])('%s is refused with its real reason', (raw, rules, reason) => {
    const { handles, skipped } = phoneOf(raw, rules);
    expect(handles).toEqual([]);
    expect(skipped[0].reason).toBe(reason);
  });

  test('the "no default country" reason appears only where a default country would have helped', () => {
    expect(phoneOf('+44 12345', none).skipped[0].reason).not.toMatch(/default country/);
    expect(phoneOf('020 7946 0958', gb).handles[0].value).toBe('+442079460958');
  });
});

describe('one line, one spelling', () => {
  test("Brazil: WhatsApp's 12-digit wa_id of an older mobile is the 13-digit number SMS and calls give", () => {
    const wa = phoneOf('552188764321', none);
    expect(wa.handles[0].value).toBe('+5521988764321');
    expect(wa.handles[0].notes?.[0]).toMatch(/without its ninth digit: recorded as \+5521988764321, the same line \(built-in rule brazil-ninth-digit\)/);
    expect(phoneOf('+55 21 98876-4321', none).handles[0].value).toBe('+5521988764321');
    // A Rio landline (starts with 2-5) has 8 digits and is left alone.
    expect(phoneOf('+55 21 3264-4321', none).handles[0].value).toBe('+552132644321');
    // Switched off, the 12-digit number stays as given (kept as possible, with lower confidence).
    expect(phoneOf('552188764321', compileRules({ builtInRulesOff: ['brazil-ninth-digit'] })).handles[0].value).toBe('+552188764321');
  });

  test('Mexico: the old "1" after +52 (as WhatsApp sends it) is dropped', () => {
    const wa = phoneOf('5215591827364', none).handles[0];
    expect(wa.value).toBe('+525591827364');
    expect(wa.notes?.[0]).toMatch(/old "1" prefix: recorded as \+525591827364, the same line \(built-in rule mexico-mobile-prefix\)/);
    expect(phoneOf('+52 55 9182 7364', none).handles[0].value).toBe('+525591827364');
  });
});

describe('placeholders, in every format people type them', () => {
  test.each([
    '0000000000', '0000 000000', '+44 0000 000000', '07000 000000', '1234567890', '01234 567890', '+44 1234 567890', '07123 456789',
    '(555) 555-5555', '555-123-4567', '123-456-7890', '9876543210', '+1 111 111 1111',
  ])('phone %s', (raw) => {
    const rules = compileRules({ defaultCountry: raw.startsWith('(') || raw.startsWith('555') || raw.startsWith('123') ? 'US' : 'GB' });
    const { handles, skipped } = phoneOf(raw, rules);
    expect(handles).toEqual([]);
    expect(skipped[0].reason).toMatch(/placeholder/);
  });

  test.each(['asdf@asdf.com', 'test@test.com', 'a@a.com', 'none@none.com', 'noemail@gmail.com', 'no-email@hotmail.com', 'na@na.com', 'xxx@xxx.com', 'noreply@shop.io', 'jane@example.com', 'jane@mail.test'])(
    'email %s',
    (value) => {
      const { handles, skipped } = normalizeHandles([{ kind: 'email', value }], none);
      expect(handles).toEqual([]);
      expect(skipped[0].reason).toMatch(/placeholder|robot/);
    },
  );

  test.each(['none', 'N/A', 'no email', 'asdf', 'qwerty', 'xxxx', '-', 'zzzzz'])('any typed field: %s', (value) => {
    expect(normalizeHandles([{ kind: 'account', value }], none).skipped[0]?.reason).toMatch(/placeholder/);
  });

  test('real values that merely look round are kept', () => {
    expect(phoneOf('+44 20 7946 0000', gb).handles).toHaveLength(1);
    expect(normalizeHandles([{ kind: 'email', value: 'anna@asdf-consulting.com' }], none).handles).toHaveLength(1);
    // Provider-assigned ids are never placeholders, whatever their digits.
    expect(normalizeHandles([{ kind: 'telegram_user', scope: 'bot', value: '111111' }], none).handles).toHaveLength(1);
  });
});

describe('shared values', () => {
  test('role mailboxes (in several languages) and landlines are shared; mobiles and personal addresses are not', () => {
    const shared = (kind: 'email' | 'phone', value: string) => normalizeHandles([{ kind, value }], gb).handles[0]?.shared;
    for (const box of ['info@acme.io', 'support@client.co', 'Sales@Acme.io', 'billing+eu@acme.io', 'kontakt@firma.de', 'accueil@hotel.fr', 'contacto@empresa.es', 'front.desk@hotel.io']) {
      expect(shared('email', box)).toBe('a role mailbox (built-in rule role-mailboxes)');
    }
    expect(shared('email', 'maya@fastmail.fm')).toBeUndefined();
    expect(shared('phone', '020 7946 0958')).toBe('a fixed line, shared by a household or an office (built-in rule shared-phone-lines)');
    expect(shared('phone', '+49 30 22394581')).toMatch(/^a fixed line/);
    expect(shared('phone', '+33 1 42 68 53 00')).toMatch(/^a fixed line/);
    expect(shared('phone', '0808 157 0192')).toMatch(/^a toll-free number/);
    expect(shared('phone', '07911 123456')).toBeUndefined();
    // North American numbers can not be told apart (FIXED_LINE_OR_MOBILE): personal.
    expect(shared('phone', '+1 415 555 0132')).toBeUndefined();
  });

  test('each built-in rule is listed with what it does, and can be switched off on its own', () => {
    expect(BUILT_IN_RULE_IDS).toEqual(['placeholder-values', 'placeholder-emails', 'placeholder-phones', 'role-mailboxes', 'shared-phone-lines', 'brazil-ninth-digit', 'mexico-mobile-prefix']);
    for (const id of BUILT_IN_RULE_IDS) expect(BUILT_IN_RULES[id].length).toBeGreaterThan(40);
    const testing = compileRules({ builtInRulesOff: ['placeholder-emails', 'role-mailboxes'] });
    const [handle] = normalizeHandles([{ kind: 'email', value: 'info@example.com' }], testing).handles;
    expect(handle).toEqual({ kind: 'email', value: 'info@example.com', scope: '', trust: 'asserted' });
    expect(normalizeHandles([{ kind: 'phone', value: '020 7946 0958' }], compileRules({ defaultCountry: 'GB', builtInRulesOff: ['shared-phone-lines'] })).handles[0].shared).toBeUndefined();
    expect(() => compileRules({ builtInRulesOff: ['no-such-rule' as never] })).toThrow(/builtInRulesOff\.0/);
  });

  test('the store settings carry own addresses and rules switched off (a list, or comma-separated from Node-RED)', () => {
    const settings = resolveSettings({ ownAddresses: 'support@acme.io,\nacme-help.com', builtInRulesOff: 'placeholder-emails, role-mailboxes' }, 'node-red', '/tmp');
    expect(settings.rules).toMatchObject({ ownAddresses: ['support@acme.io', 'acme-help.com'], builtInRulesOff: ['placeholder-emails', 'role-mailboxes'] });
    expect(() => resolveSettings({ builtInRulesOff: ['landlines-typo'] as never }, 'n8n')).toThrow(/builtInRulesOff\.0: must be built-in rule ids/);
  });
});

describe('our own addresses', () => {
  test('an address, or every address of a domain and its subdomains', () => {
    const rules = compileRules({ ownAddresses: ['Support@Acme.io', 'acme-help.com', '@eu.acme.io'] });
    expect(isOwnAddress(rules, 'support@acme.io')).toBe(true);
    expect(isOwnAddress(rules, 'sales@acme.io')).toBe(false);
    expect(isOwnAddress(rules, 'tom@acme-help.com')).toBe(true);
    expect(isOwnAddress(rules, 'tom@mail.acme-help.com')).toBe(true);
    expect(isOwnAddress(rules, 'tom@notacme-help.com')).toBe(false);
    expect(isOwnAddress(rules, 'ops@eu.acme.io')).toBe(true);
    expect(() => compileRules({ ownAddresses: ['not an address'] })).toThrow(/ownAddresses\.0: must be an email address/);
  });
});

test('parsePhone reports validity, for tools that want to show it', () => {
  expect(parsePhone('+447911123456', {})).toEqual({ value: '+447911123456', valid: true, notes: [] });
  expect(parsePhone('+447700900461', {})).toMatchObject({ valid: false });
});
