/**
 * Versioned schema migrations, written once for both dialects. `{{seq}}` and `{{int}}` are the only
 * places where SQLite and PostgreSQL differ. A migration is applied in one transaction under a lock,
 * so several processes opening a new store at once apply it exactly once.
 */
import { SqlDriver } from './driver';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'contacts, handles, conversations, events, deliveries, merges, suggestions',
    sql: `
CREATE TABLE contacts (
  workspace TEXT NOT NULL,
  id TEXT NOT NULL,
  root_id TEXT NOT NULL,
  merged_into TEXT,
  name TEXT,
  attributes TEXT NOT NULL DEFAULT '{}',
  created_at {{int}} NOT NULL,
  updated_at {{int}} NOT NULL,
  PRIMARY KEY (workspace, id)
);
CREATE INDEX contacts_root ON contacts (workspace, root_id);

CREATE TABLE handles (
  workspace TEXT NOT NULL,
  kind TEXT NOT NULL,
  scope TEXT NOT NULL,
  value TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  trust TEXT NOT NULL,
  first_seen_at {{int}} NOT NULL,
  last_seen_at {{int}} NOT NULL,
  PRIMARY KEY (workspace, kind, scope, value, contact_id)
);
CREATE INDEX handles_contact ON handles (workspace, contact_id);

CREATE TABLE conversations (
  workspace TEXT NOT NULL,
  id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  status TEXT NOT NULL,
  channels TEXT NOT NULL DEFAULT '[]',
  last_channel TEXT,
  message_count {{int}} NOT NULL DEFAULT 0,
  opened_at {{int}} NOT NULL,
  last_activity_at {{int}} NOT NULL,
  closed_at {{int}},
  PRIMARY KEY (workspace, id)
);
CREATE INDEX conversations_contact ON conversations (workspace, contact_id, last_activity_at);

CREATE TABLE events (
  seq {{seq}},
  workspace TEXT NOT NULL,
  id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  conversation_id TEXT,
  kind TEXT NOT NULL,
  channel TEXT,
  channel_account TEXT,
  direction TEXT,
  text TEXT NOT NULL DEFAULT '',
  occurred_at {{int}} NOT NULL,
  recorded_at {{int}} NOT NULL,
  provider_message_id TEXT,
  thread_key TEXT,
  data TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX events_id ON events (workspace, id);
CREATE INDEX events_contact_time ON events (workspace, contact_id, occurred_at, seq);
CREATE INDEX events_thread ON events (workspace, channel, thread_key) WHERE thread_key IS NOT NULL;

CREATE TABLE deliveries (
  workspace TEXT NOT NULL,
  dedupe_key TEXT NOT NULL,
  event_id TEXT,
  recorded_at {{int}} NOT NULL,
  PRIMARY KEY (workspace, dedupe_key)
);

CREATE TABLE merges (
  workspace TEXT NOT NULL,
  id TEXT NOT NULL,
  survivor_id TEXT NOT NULL,
  merged_id TEXT NOT NULL,
  rule TEXT NOT NULL,
  evidence TEXT NOT NULL DEFAULT '{}',
  actor TEXT NOT NULL,
  created_at {{int}} NOT NULL,
  undone_at {{int}},
  undone_by TEXT,
  PRIMARY KEY (workspace, id)
);
CREATE INDEX merges_merged ON merges (workspace, merged_id);
CREATE INDEX merges_survivor ON merges (workspace, survivor_id);

CREATE TABLE merge_suggestions (
  workspace TEXT NOT NULL,
  id TEXT NOT NULL,
  contact_a TEXT NOT NULL,
  contact_b TEXT NOT NULL,
  reason TEXT NOT NULL,
  evidence TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL,
  created_at {{int}} NOT NULL,
  updated_at {{int}} NOT NULL,
  PRIMARY KEY (workspace, id)
);
CREATE UNIQUE INDEX suggestions_open_pair ON merge_suggestions (workspace, contact_a, contact_b) WHERE status = 'open';
CREATE INDEX suggestions_b ON merge_suggestions (workspace, contact_b);
`,
  },
  {
    version: 2,
    name: 'find events by provider message id (delivery and call statuses)',
    sql: `
CREATE INDEX events_provider ON events (workspace, channel, provider_message_id) WHERE provider_message_id IS NOT NULL;
`,
  },
  {
    version: 3,
    name: 'cursors of pollers (an IMAP mailbox: UIDVALIDITY and last UID), kept with the data they guard',
    sql: `
CREATE TABLE cursors (
  workspace TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  updated_at {{int}} NOT NULL,
  PRIMARY KEY (workspace, key)
);
`,
  },
  {
    version: 4,
    name: 'agent roster (humans and AI agents) and conversation assignment',
    sql: `
CREATE TABLE agents (
  workspace TEXT NOT NULL,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  skills TEXT NOT NULL DEFAULT '{}',
  languages TEXT NOT NULL DEFAULT '[]',
  channels TEXT NOT NULL DEFAULT '[]',
  capacity {{int}} NOT NULL,
  channel_costs TEXT NOT NULL DEFAULT '{}',
  attributes TEXT NOT NULL DEFAULT '{}',
  ai_confidence_threshold TEXT,
  created_at {{int}} NOT NULL,
  updated_at {{int}} NOT NULL,
  PRIMARY KEY (workspace, id)
);
ALTER TABLE conversations ADD COLUMN assigned_agent_id TEXT;
ALTER TABLE conversations ADD COLUMN assigned_at {{int}};
CREATE INDEX conversations_assigned ON conversations (workspace, assigned_agent_id, status);
`,
  },
  {
    version: 5,
    name: 'open assigned conversations: the load every route decision reads',
    // Without it the load query scans every conversation of the workspace (about 20 ms at 150k
    // conversations, bench/route.js); the partial index holds only the open assigned ones.
    sql: `
CREATE INDEX conversations_open_assigned ON conversations (workspace, assigned_agent_id) WHERE status = 'open' AND assigned_agent_id IS NOT NULL;
`,
  },
  {
    version: 6,
    name: 'desk: agent access, sessions and sign-in links, sign-in attempts; inbox and metrics indexes',
    // events_conversation_kind: a conversation's events of a few kinds (its handoff, its newest route
    // decision) without walking the whole conversation; a long one has thousands of messages.
    // waiting_since: when the customer's oldest unanswered message came in (NULL once answered), kept by
    // touchConversation so the inbox sorts 10,000 open conversations by wait without reading their events.
    // conversations_waiting: the waiting queue in its own order (longest wait first), so its first page reads
    // 50 index entries instead of sorting every unassigned open conversation (3.8 -> 0.2 ms at 6,300 waiting; bench/desk.js).
    // Tokens are stored as SHA-256 hashes only (a session cookie or a sign-in link is 256 random bits).
    sql: `
CREATE TABLE desk_access (
  workspace TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  role TEXT NOT NULL,
  password_hash TEXT,
  updated_at {{int}} NOT NULL,
  PRIMARY KEY (workspace, agent_id)
);
CREATE TABLE desk_tokens (
  workspace TEXT NOT NULL,
  token_hash TEXT NOT NULL,
  kind TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  created_at {{int}} NOT NULL,
  expires_at {{int}} NOT NULL,
  used_at {{int}},
  PRIMARY KEY (workspace, token_hash)
);
CREATE INDEX desk_tokens_agent ON desk_tokens (workspace, agent_id);
CREATE TABLE desk_attempts (
  workspace TEXT NOT NULL,
  key TEXT NOT NULL,
  window_start {{int}} NOT NULL,
  failures {{int}} NOT NULL,
  PRIMARY KEY (workspace, key)
);
ALTER TABLE conversations ADD COLUMN waiting_since {{int}};
UPDATE conversations SET waiting_since = last_activity_at WHERE status = 'open' AND EXISTS (
  SELECT 1 FROM events e WHERE e.workspace = conversations.workspace AND e.conversation_id = conversations.id
     AND e.kind IN ('message', 'call') AND e.direction = 'inbound' AND e.occurred_at = conversations.last_activity_at);
CREATE INDEX events_conversation ON events (workspace, conversation_id, occurred_at) WHERE conversation_id IS NOT NULL;
CREATE INDEX events_conversation_kind ON events (workspace, conversation_id, kind, occurred_at) WHERE conversation_id IS NOT NULL;
CREATE INDEX events_seq ON events (workspace, seq);
CREATE INDEX conversations_status_activity ON conversations (workspace, status, last_activity_at);
CREATE INDEX conversations_closed ON conversations (workspace, closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX conversations_opened ON conversations (workspace, opened_at);
CREATE INDEX conversations_waiting ON conversations (workspace, (COALESCE(waiting_since, last_activity_at)), id) WHERE status = 'open' AND assigned_agent_id IS NULL;
`,
  },
  {
    version: 7,
    name: 'open conversation of a contact',
    // Every ingest asks for the person's open conversation. With conversations_status_activity (migration
    // 6) SQLite read every open conversation of the workspace for it; this index answers it from the
    // person's own rows.
    sql: `
CREATE INDEX conversations_contact_open ON conversations (workspace, contact_id, last_activity_at) WHERE status = 'open';
`,
  },
  {
    version: 8,
    name: 'suggestions by either contact',
    // A person's suggestions (the desk's person view, an export) are asked by contact_a or contact_b in
    // two indexed halves; contact_a had only the partial index of open pairs, so the other statuses read
    // every suggestion of the workspace.
    sql: `
CREATE INDEX suggestions_a ON merge_suggestions (workspace, contact_a);
`,
  },
];

const TOKENS: Record<SqlDriver['dialect'], Record<string, string>> = {
  sqlite: { '{{seq}}': 'INTEGER PRIMARY KEY AUTOINCREMENT', '{{int}}': 'INTEGER' },
  postgres: { '{{seq}}': 'BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY', '{{int}}': 'BIGINT' },
};

/** Every table the migrations create: what the PostgreSQL driver keeps statistics of (pg-statistics.ts). */
export function storeTables(migrations: readonly Migration[] = MIGRATIONS): string[] {
  return [...new Set(migrations.flatMap((m) => [...m.sql.matchAll(/CREATE TABLE (?:IF NOT EXISTS )?(\w+)/g)].map((match) => match[1]!)))];
}

export function migrationStatements(migration: Migration, dialect: SqlDriver['dialect']): string[] {
  const sql = migration.sql.replace(/\{\{\w+\}\}/g, (token) => TOKENS[dialect][token] ?? token);
  return sql
    .split(/;\s*\n/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Brings the schema up to the newest version; returns the versions it applied. */
export async function migrate(driver: SqlDriver, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  return driver.transaction(async (tx) => {
    await tx.lock(['omnithread:migrations']);
    await tx.run(
      `CREATE TABLE IF NOT EXISTS omnithread_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at ${TOKENS[driver.dialect]['{{int}}']} NOT NULL)`,
    );
    const row = await tx.get<{ v: number | null }>('SELECT MAX(version) AS v FROM omnithread_migrations');
    const current = Number(row?.v ?? 0);
    const applied: number[] = [];
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      for (const statement of migrationStatements(migration, driver.dialect)) await tx.run(statement);
      await tx.run('INSERT INTO omnithread_migrations (version, name, applied_at) VALUES (?, ?, ?)', [migration.version, migration.name, Date.now()]);
      applied.push(migration.version);
    }
    return applied;
  });
}
