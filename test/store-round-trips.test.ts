/**
 * Round trips to PostgreSQL per ingest, counted at the wire: a round trip starts when a connection sends
 * while it waits for nothing (the store's connections pipeline, so the statements sent together before
 * any answer is read are one round trip). A figure for BENCHMARKS.md, and a guard so that it only goes down.
 */
import { Client } from 'pg';
import { createOmnithread, openStore } from '../shared';
import { createTestStoreConfig } from './support/stores';
import { email, message, phone } from './support/messages';

test('round trips per ingest on PostgreSQL', async () => {
  const { config, cleanup } = await createTestStoreConfig('postgres');
  const store = await openStore(config);
  const at = Date.parse('2026-11-30T09:00:00Z');
  const ot = createOmnithread({ store, workspace: 'rt', clock: () => at });
  const counted: string[] = [];
  const statements: string[] = [];
  const outstanding = new WeakMap<Client, number>();
  const original = Client.prototype.query;
  const query = jest.spyOn(Client.prototype, 'query').mockImplementation(function (this: Client, ...args: unknown[]) {
    const first = args[0];
    const text = typeof first === 'string' ? first : String((first as { text?: string }).text);
    statements.push(text);
    const waiting = outstanding.get(this) ?? 0;
    if (waiting === 0) counted.push(text);
    outstanding.set(this, waiting + 1);
    const settle = () => outstanding.set(this, (outstanding.get(this) ?? 1) - 1);
    const last = args[args.length - 1];
    if (typeof last === 'function') {
      // pg-pool's own query passes a callback (and gets no promise back).
      args[args.length - 1] = (...answer: unknown[]) => (settle(), (last as (...a: unknown[]) => unknown)(...answer));
      return (original as (...a: unknown[]) => unknown).apply(this, args) as never;
    }
    const result = (original as (...a: unknown[]) => unknown).apply(this, args) as Promise<unknown>;
    result.then(settle, settle);
    return result as never;
  });
  const trips: Record<string, number> = {};
  try {
    const measure = async (name: string, run: () => Promise<unknown>) => {
      counted.length = 0;
      statements.length = 0;
      await run();
      trips[name] = counted.length;
      if (process.env.SHOW_SQL) console.log(name + "\n" + statements.map((q) => q.replace(/\s+/g, " ").slice(0, 150)).join("\n"));
    };
    await ot.ingest(message([email('warm@mail.test')], { channel: 'email', channelAccount: 'support@shop.test', providerMessageId: 'warm' }));
    await measure('new person', () => ot.ingest(message([email('ana@mail.test'), phone('+14155552671')], { channel: 'webchat', channelAccount: 'shop.test', providerMessageId: 'm1' })));
    await measure('known person', () => ot.ingest(message([phone('+14155552671')], { channel: 'whatsapp', channelAccount: 'waba-1', providerMessageId: 'm2' })));
    await measure('redelivery', () => ot.ingest(message([phone('+14155552671')], { channel: 'whatsapp', channelAccount: 'waba-1', providerMessageId: 'm2' })));
  } finally {
    query.mockRestore();
    await store.close();
    await cleanup();
  }
  console.log(`round trips per ingest on PostgreSQL: ${JSON.stringify(trips)}`);
  // Issue 14 asks for at most 6. Measured: a new person 4, a known person 6 (with a channel switch), a
  // redelivery 2 (they were 18, 21 and 8 before writes were deferred and reads batched: defer, many).
  expect(trips['new person']).toBeLessThanOrEqual(4);
  expect(trips['known person']).toBeLessThanOrEqual(6);
  expect(trips.redelivery).toBeLessThanOrEqual(2);
});

test('behind a pooler that keeps no prepared statements (preparedStatements: false): nothing is named, and everything works', async () => {
  const { config, cleanup } = await createTestStoreConfig('postgres');
  const store = await openStore({ ...(config as { type: 'postgres'; connectionString: string }), preparedStatements: false });
  const ot = createOmnithread({ store, workspace: 'unnamed', clock: () => Date.parse('2026-11-30T09:00:00Z') });
  const named: string[] = [];
  const original = Client.prototype.query;
  const query = jest.spyOn(Client.prototype, 'query').mockImplementation(function (this: Client, ...args: unknown[]) {
    const first = args[0] as { name?: string } | string;
    if (typeof first === 'object' && first?.name) named.push(first.name);
    return (original as (...a: unknown[]) => unknown).apply(this, args) as never;
  });
  try {
    const first = await ot.ingest(message([email('ana@mail.test'), phone('+14155552671')], { channel: 'webchat', channelAccount: 'shop.test', providerMessageId: 'u1' }));
    const again = await ot.ingest(message([phone('+14155552671')], { channel: 'whatsapp', channelAccount: 'waba-1', providerMessageId: 'u2' }));
    const redelivered = await ot.ingest(message([phone('+14155552671')], { channel: 'whatsapp', channelAccount: 'waba-1', providerMessageId: 'u2' }));
    expect(again.contact.id).toBe(first.contact.id);
    expect(redelivered.duplicate).toBe(true);
    expect((await ot.timeline(first.contact.id)).events.filter((e) => e.kind === 'message')).toHaveLength(2);
  } finally {
    query.mockRestore();
    await store.close();
    await cleanup();
  }
  expect(named).toEqual([]);
});
