/**
 * Deferred writes and batched statements (SqlTransaction.defer and .many): on PostgreSQL they travel with
 * the next statement or the COMMIT, pipelined, each a prepared statement with its parameters (before
 * 12-08 they were one multi-statement message with the values written in as quoted literals; these
 * values are kept from then). What that must not change: every value arrives byte for byte, an error in a
 * deferred write fails its transaction and leaves nothing of it, and nothing runs after a committing batch.
 */
import { createOmnithread } from '../shared';
import { describeStores, uniqueWorkspace } from './support/stores';

// Values that break naive quoting: quotes, backslashes (an escaping E'' form), placeholders of both
// dialects, comment starts, a semicolon, newlines, non-ASCII and an emoji outside the BMP.
const AWKWARD = ["it's", 'C:\\path\\n\\', 'a ? b $1 $$ $tag$', '-- not a comment; DROP TABLE x', 'line1\nline2\r\n\ttab', 'Zoë 東京 👋🏽', "'';\\'", '-5', ''];

describeStores('batched statements', (store) => {
  const table = `batch_${Math.random().toString(36).slice(2, 8)}`;
  beforeAll(async () => {
    await store().store.driver.transaction(async (tx) => {
      await tx.run(`CREATE TABLE ${table} (k TEXT PRIMARY KEY, v TEXT NOT NULL, n BIGINT)`);
    });
  });

  test('deferred and batched values arrive exactly as given', async () => {
    const { driver } = store().store;
    const rows = await driver.transaction(async (tx) => {
      for (const [i, v] of AWKWARD.entries()) await tx.defer(`INSERT INTO ${table} (k, v, n) VALUES (?, ?, ?)`, [`d${i}`, v, (i - 4) * 1_000_000_000_000]);
      const [batched] = await tx.many(AWKWARD.map((v, i) => ({ sql: `INSERT INTO ${table} (k, v, n) VALUES (?, ?, ?) RETURNING v`, params: [`m${i}`, v, i] })));
      return { batched, all: await tx.all<{ k: string; v: string; n: number }>(`SELECT k, v, n FROM ${table} ORDER BY k`) };
    });
    expect(rows.batched).toEqual([{ v: AWKWARD[0] }]);
    const byKey = new Map(rows.all.map((r) => [r.k, r]));
    AWKWARD.forEach((v, i) => {
      expect(byKey.get(`d${i}`)).toEqual({ k: `d${i}`, v, n: (i - 4) * 1_000_000_000_000 });
      expect(byKey.get(`m${i}`)).toEqual({ k: `m${i}`, v, n: i });
    });
  });

  test('many returns each statement\'s rows, in order, after what was deferred', async () => {
    const { driver } = store().store;
    const results = await driver.transaction(async (tx) => {
      await tx.defer(`INSERT INTO ${table} (k, v, n) VALUES (?, ?, ?)`, ['order-1', 'first', 1]);
      return tx.many(
        [
          { sql: `SELECT v FROM ${table} WHERE k = ?`, params: ['order-1'] },
          { sql: `UPDATE ${table} SET v = ? WHERE k = ? RETURNING v, n`, params: ['second', 'order-1'] },
          { sql: `SELECT v FROM ${table} WHERE k = ?`, params: ['missing'] },
        ],
        { commit: true },
      );
    });
    expect(results).toEqual([[{ v: 'first' }], [{ v: 'second', n: 1 }], []]);
    expect(await driver.readOne(`SELECT v FROM ${table} WHERE k = ?`, ['order-1'])).toEqual({ v: 'second' });
  });

  test('a deferred write that fails fails its transaction, and nothing of it stays', async () => {
    const { driver } = store().store;
    await expect(
      driver.transaction(async (tx) => {
        await tx.run(`INSERT INTO ${table} (k, v, n) VALUES (?, ?, ?)`, ['fail-1', 'written first', 1]);
        await tx.defer(`INSERT INTO ${table} (k, v, n) VALUES (?, ?, ?)`, ['fail-2', null, 2]); // v is NOT NULL
        await tx.defer(`INSERT INTO ${table} (k, v, n) VALUES (?, ?, ?)`, ['fail-3', 'after it', 3]);
      }),
    ).rejects.toThrow(/not.null/i);
    expect(await driver.readOne(`SELECT COUNT(*) AS n FROM ${table} WHERE k LIKE 'fail-%'`)).toEqual({ n: 0 });
  });

  test('a statement after a committing batch is refused on PostgreSQL', async () => {
    const { driver } = store().store;
    if (store().kind === 'sqlite') return; // SQLite commits when the function returns; the option means nothing there
    await expect(
      driver.transaction(async (tx) => {
        await tx.many([{ sql: `INSERT INTO ${table} (k, v, n) VALUES (?, ?, ?)`, params: ['late-1', 'committed', 1] }], { commit: true });
        await tx.run(`INSERT INTO ${table} (k, v, n) VALUES (?, ?, ?)`, ['late-2', 'outside', 2]);
      }),
    ).rejects.toThrow(/after the transaction was committed/);
    expect(await driver.readOne(`SELECT k FROM ${table} WHERE k LIKE 'late-%' ORDER BY k`)).toEqual({ k: 'late-1' });
  });

  test('a message with awkward text and names is recorded and read back unchanged', async () => {
    const ot = createOmnithread({ store: store().store, workspace: uniqueWorkspace() });
    for (const [i, text] of AWKWARD.entries()) {
      const result = await ot.ingest({
        channel: 'webchat',
        channelAccount: "shop's site",
        providerMessageId: `awk-${i}-${text}`,
        from: { handles: [{ kind: 'email', value: `o'brien+${i}@acme-mail.io`, trust: 'channel' }], name: `O'Brien \\ ${i}` },
        text: text || '(empty)',
      });
      expect(result.effect).toBe('recorded');
      expect(result.event?.text).toBe(text || '(empty)');
      expect(result.contact.identities.map((h) => h.value)).toEqual([`o'brien+${i}@acme-mail.io`]);
      const timeline = await ot.timeline(result.contact.id);
      expect(timeline.events.map((e) => e.text)).toContain(text || '(empty)');
      expect((await ot.getContact(result.contact.id)).name).toBe(`O'Brien \\ ${i}`);
    }
  });
});
