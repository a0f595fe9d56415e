/**
 * The person's open conversation, asked on every ingest, is found from the person's own rows on a young
 * PostgreSQL store too (no ANALYZE yet, as right after the first start): the plan must not read every
 * open conversation of the workspace. The Node-RED bench (h) saw 3,945 contact probes per message at
 * 10,000 messages before this, and after a first fix still 1,600 conversation rows read per message.
 */
import { Client } from 'pg';
import { openStore } from '../shared';
import { openConversation } from '../shared/timeline/events';
import { createTestStoreConfig } from './support/stores';

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
