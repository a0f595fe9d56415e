import { MessageInputSchema, OmnithreadError, parseInput } from '../shared';

const valid = {
  channel: 'whatsapp',
  channelAccount: '1234567890',
  providerMessageId: 'wamid.1',
  from: { handles: [{ kind: 'phone', value: '+14155550123', trust: 'channel' }] },
  text: 'hello',
};

function errorOf(input: unknown): OmnithreadError {
  try {
    parseInput(MessageInputSchema, input, 'message');
  } catch (error) {
    return error as OmnithreadError;
  }
  throw new Error('expected the message to be rejected');
}

describe('Message schema', () => {
  test('accepts a valid message and fills defaults', () => {
    const parsed = parseInput(MessageInputSchema, { ...valid, text: undefined }, 'message');
    expect(parsed.text).toBe('');
    expect(parsed.attachments).toEqual([]);
    expect(parsed.from.handles[0]).toEqual({ kind: 'phone', value: '+14155550123', trust: 'channel' });
  });

  test('a handle without trust is asserted (typed by the customer) unless the channel says more', () => {
    const parsed = parseInput(MessageInputSchema, { ...valid, from: { handles: [{ kind: 'email', value: 'a@b.io' }] } }, 'message');
    expect(parsed.from.handles[0].trust).toBe('asserted');
  });

  test.each([
    [{ ...valid, providerMessageId: '' }, 'providerMessageId'],
    [{ ...valid, providerMessageId: undefined }, 'providerMessageId'],
    [{ ...valid, channel: 'Not A Channel' }, 'channel'],
    [{ ...valid, from: { handles: [] } }, 'from.handles'],
    [{ ...valid, from: { handles: [{ kind: 'telegram_user', value: '42' }] } }, 'from.handles.0.scope'],
    [{ ...valid, from: { handles: [{ kind: 'email', value: 'a@b.io', scope: 'x' }] } }, 'from.handles.0.scope'],
    [{ ...valid, from: { handles: [{ kind: 'fax', value: '1' }] } }, 'from.handles.0.kind'],
    [{ ...valid, from: { handles: [{ kind: 'email', value: 'a@b.io', trust: 'certain' }] } }, 'from.handles.0.trust'],
    [{ ...valid, sentAt: 'yesterday' }, 'sentAt'],
    [{ ...valid, attachments: [{ url: 1 }] }, 'attachments.0.url'],
    [{ ...valid, unexpected: true }, '(root)'],
  ])('rejects %j naming the field %s', (input, field) => {
    const error = errorOf(input);
    expect(error).toBeInstanceOf(OmnithreadError);
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.field).toBe(field);
    expect(error.message).toContain(field === '(root)' ? 'unexpected' : field);
  });
});
