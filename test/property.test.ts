import fc from 'fast-check';
import { MessageInput, OmnithreadError } from '../shared';
import { countRows, describeStores } from './support/stores';

/**
 * Whatever arrives (random values, or a valid message with fields mutated, dropped or swapped), ingest
 * either records it or refuses it with an INVALID_INPUT error naming a field, and a refusal writes nothing.
 */
const valid: MessageInput = {
  channel: 'generic',
  channelAccount: 'acct',
  providerMessageId: 'm-1',
  from: { name: 'Ana', handles: [{ kind: 'email', value: 'ana@corp.io', trust: 'channel' }, { kind: 'telegram_user', scope: 'bot', value: '7', trust: 'channel' }] },
  text: 'hello',
  sentAt: '2026-11-24T10:00:00Z',
};

const paths = ['channel', 'channelAccount', 'providerMessageId', 'from', 'from.name', 'from.handles', 'from.handles.0', 'from.handles.0.kind', 'from.handles.0.value', 'from.handles.0.trust', 'from.handles.1.scope', 'text', 'sentAt', 'attachments', 'replyTo', 'extra'];

function mutate(base: unknown, path: string, value: unknown, drop: boolean): unknown {
  const copy = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
  const keys = path.split('.');
  let target: Record<string, unknown> = copy;
  for (const key of keys.slice(0, -1)) {
    if (typeof target[key] !== 'object' || target[key] === null) return copy;
    target = target[key] as Record<string, unknown>;
  }
  const last = keys[keys.length - 1];
  if (drop) delete target[last];
  else target[last] = value;
  return copy;
}

describeStores('ingest never crashes and refuses bad input without writing', (ctx) => {
  test('random and mutated payloads', async () => {
    const ot = ctx().omnithread();
    let counter = 0;
    const payload = fc.oneof(
      fc.anything(),
      fc.tuple(fc.constantFrom(...paths), fc.anything(), fc.boolean()).map(([path, value, drop]) => mutate(valid, path, value, drop)),
      fc.record({ kind: fc.string(), value: fc.string(), scope: fc.option(fc.string(), { nil: undefined }), trust: fc.constantFrom('asserted', 'channel', 'verified', 'x') }).map((handle) => ({
        ...valid,
        from: { handles: [handle] },
      })),
    );
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(payload, async (input) => {
        // Fresh provider ids, so that accepted ones are new messages rather than redeliveries.
        if (input && typeof input === 'object' && (input as { providerMessageId?: unknown }).providerMessageId === 'm-1') {
          (input as { providerMessageId: string }).providerMessageId = `m-${++counter}`;
        }
        const before = await countRows(ctx().store);
        try {
          const result = await ot.ingest(input as MessageInput);
          expect(result.event?.kind).toBe('message');
          accepted++;
        } catch (error) {
          expect(error).toBeInstanceOf(OmnithreadError);
          expect((error as OmnithreadError).code).toBe('INVALID_INPUT');
          expect((error as OmnithreadError).field).toEqual(expect.any(String));
          expect(await countRows(ctx().store)).toEqual(before);
          refused++;
        }
      }),
      { numRuns: ctx().kind === 'sqlite' ? 400 : 150, seed: 20261124 },
    );
    expect(accepted).toBeGreaterThan(10);
    expect(refused).toBeGreaterThan(50);
  });
});
