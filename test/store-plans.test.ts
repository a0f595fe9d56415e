/**
 * The person's open conversation, asked on every ingest, is found from the person's own rows on a young
 * PostgreSQL store too (no ANALYZE yet, as right after the first start): the plan must not read every
 * open conversation of the workspace. The Node-RED bench (h) saw 3,945 contact probes per message at
 * 10,000 messages before this, and after a first fix still 1,600 conversation rows read per message.
 */
import { Client } from 'pg';
import { openStore } from '../shared';
import { mergesOfFamily } from '../shared/identity/contacts';
import type { SqlExecutor } from '../shared/store/driver';
import { familyConversations, openConversation } from '../shared/timeline/events';
import { STORE_KINDS, createTestStoreConfig } from './support/stores';

test('openConversation walks the person\'s rows on PostgreSQL without statistics', async () => {
  const { config, cleanup } = await createTestStoreConfig('postgres');
  const store = await openStore(config);
  try {
    const n = 3000;
    // Rows written straight into the tables (the plan is the point, not how they came).
    await store.driver.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO contacts (workspace, id, root_id, merged_into, name, attributes, created_at, updated_at)
         SELECT 'p', 'ct' || i, 'ct' || i, NULL, NULL, '{}', i, i FROM generate_series(1, ${n}) AS i`,
      );
      await tx.run(
        `INSERT INTO conversations (workspace, id, contact_id, status, channels, last_channel, message_count, opened_at, last_activity_at, closed_at)
         SELECT 'p', 'cv' || i, 'ct' || i, 'open', '["whatsapp"]', 'whatsapp', 1, i, i, NULL FROM generate_series(1, ${n}) AS i`,
      );
    });
    const plans: string[] = [];
    const client = new Client({ connectionString: (config as { connectionString: string }).connectionString });
    await client.connect();
    try {
      const stats = await client.query("SELECT COALESCE(last_analyze, last_autoanalyze) AS analysed FROM pg_stat_user_tables WHERE relname = 'conversations'");
      expect(stats.rows[0]?.analysed ?? null).toBeNull(); // really no statistics yet
      const spy = jest.spyOn(store.driver, 'read');
      const row = await store.driver.read(async (db) => {
        const original = db.all.bind(db);
        const explained = {
          ...db,
          all: async (sql: string, params?: readonly (string | number | null)[]) => {
            const plan = await db.all<{ 'QUERY PLAN': string }>(`EXPLAIN ANALYZE ${sql}`, params);
            plans.push(plan.map((p) => p['QUERY PLAN']).join('\n'));
            return original(sql, params);
          },
        };
        return openConversation(explained as never, 'p', 'ct1500');
      });
      spy.mockRestore();
      expect(row?.id).toBe('cv1500');
    } finally {
      await client.end();
    }
    expect(plans.join('\n')).not.toMatch(/conversations_status_activity|Seq Scan on conversations/);
    expect(plans.join('\n')).toMatch(/conversations_contact_open|conversations_contact/);
    // Using the right index is not enough: a join from the person's contacts let PostgreSQL scan that
    // index by workspace alone and filter every open conversation (Rows Removed by Join Filter: 2999).
    // The conversations are probed by contact id, and no step reads and throws away rows by the hundred.
    expect(plans.join('\n')).toMatch(/Index Cond: \(\(workspace = 'p'::text\) AND \(contact_id = /);
    expect(plans.join('\n')).not.toMatch(/Rows Removed by (Join )?Filter: \d{3,}/);
  } finally {
    await store.close();
    await cleanup();
  }
});

/**
 * A merged person (three contacts) among 3,000 people with an open conversation and 3,000 merges. With
 * `contact_id IN (two or more ids)` SQLite searched conversations_status_activity by (workspace, status)
 * and read every open conversation of the workspace on each of that person's messages (ingest slowed
 * from 2,300 to 1,700 messages/s over bench (a)'s run), and `survivor_id IN (...) OR merged_id IN (...)`
 * read every merge. Each query must probe its index by the person's own ids, on both stores.
 */
test.each(STORE_KINDS)('a merged person\'s conversations and merges are probed by their ids (%s)', async (kind) => {
  const { config, cleanup } = await createTestStoreConfig(kind);
  const store = await openStore(config);
  try {
    const n = 3000;
    const numbers = `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${n})`;
    await store.driver.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO contacts (workspace, id, root_id, merged_into, name, attributes, created_at, updated_at)
         ${numbers} SELECT 'p', 'ct' || i, 'ct' || i, NULL, NULL, '{}', i, i FROM n`,
      );
      await tx.run(
        `INSERT INTO conversations (workspace, id, contact_id, status, channels, last_channel, message_count, opened_at, last_activity_at, closed_at)
         ${numbers} SELECT 'p', 'cv' || i, 'ct' || i, 'open', '["whatsapp"]', 'whatsapp', 1, i, i, NULL FROM n`,
      );
      await tx.run(
        `INSERT INTO merges (workspace, id, survivor_id, merged_id, rule, evidence, actor, created_at)
         ${numbers} SELECT 'p', 'mg' || i, 'ct' || i, 'old' || i, 'same-email', '{}', 'system', i FROM n`,
      );
      // The person: ct-a survives, ct-b and ct-c were merged into it; only ct-b's conversation is open.
      await tx.run(
        `INSERT INTO contacts (workspace, id, root_id, merged_into, name, attributes, created_at, updated_at) VALUES
         ('p', 'ct-a', 'ct-a', NULL, NULL, '{}', 1, 1), ('p', 'ct-b', 'ct-a', 'ct-a', NULL, '{}', 2, 2), ('p', 'ct-c', 'ct-a', 'ct-a', NULL, '{}', 3, 3)`,
      );
      await tx.run(
        `INSERT INTO conversations (workspace, id, contact_id, status, channels, last_channel, message_count, opened_at, last_activity_at, closed_at) VALUES
         ('p', 'cv-a', 'ct-a', 'resolved', '[]', NULL, 1, 1, 5, 6), ('p', 'cv-b', 'ct-b', 'open', '[]', NULL, 1, 2, 7, NULL), ('p', 'cv-c', 'ct-c', 'idle', '[]', NULL, 1, 3, 4, 9)`,
      );
      await tx.run(
        `INSERT INTO merges (workspace, id, survivor_id, merged_id, rule, evidence, actor, created_at) VALUES
         ('p', 'mg-b', 'ct-a', 'ct-b', 'same-email', '{}', 'system', 10), ('p', 'mg-c', 'ct-a', 'ct-c', 'same-phone', '{}', 'system', 11)`,
      );
    });
    const plans: string[] = [];
    const explain = kind === 'sqlite' ? 'EXPLAIN QUERY PLAN' : 'EXPLAIN ANALYZE';
    const results = await store.driver.read(async (db) => {
      const explained: SqlExecutor = {
        ...db,
        all: async <T,>(sql: string, params?: readonly (string | number | null)[]) => {
          const plan = await db.all<Record<string, string>>(`${explain} ${sql}`, params);
          plans.push(plan.map((p) => p.detail ?? p['QUERY PLAN']).join('\n'));
          return db.all<T & Record<string, unknown>>(sql, params) as Promise<T[]>;
        },
      } as SqlExecutor;
      const family = ['ct-a', 'ct-b', 'ct-c'];
      return {
        open: await openConversation(explained, 'p', 'ct-a', family),
        all: await familyConversations(explained, 'p', 'ct-a'),
        merges: await mergesOfFamily(explained, 'p', family),
      };
    });
    expect(results.open?.id).toBe('cv-b');
    expect(results.all.map((c) => c.id)).toEqual(['cv-b', 'cv-a', 'cv-c']);
    expect(results.merges.map((m) => m.id)).toEqual(['mg-b', 'mg-c']);
    const text = plans.join('\n');
    expect(text).not.toMatch(/conversations_status_activity|SCAN conversations|SCAN merges|Seq Scan on (conversations|merges)/);
    if (kind === 'sqlite') {
      expect(text).toMatch(/USING INDEX conversations_contact_open \(workspace=\? AND contact_id=\?\)/);
      expect(text).toMatch(/USING INDEX merges_survivor \(workspace=\? AND survivor_id=\?\)/);
      expect(text).toMatch(/USING INDEX merges_merged \(workspace=\? AND merged_id=\?\)/);
    } else {
      expect(text).toMatch(/Index Cond: \(\(workspace = 'p'::text\) AND \(contact_id = /);
      expect(text).not.toMatch(/Rows Removed by (Join )?Filter: \d{3,}/);
    }
  } finally {
    await store.close();
    await cleanup();
  }
});
