'use strict';
/**
 * What the soak left in the store, read straight from the SQLite file with node:sqlite (not through the
 * core, so a bug in the core's reads can not hide one in its writes):
 * - every message id sent against the inbound message events recorded for it (channel generic, found by
 *   provider_message_id): acknowledged and missing = lost, more than one event = duplicated;
 * - the deliveries table (the dedupe keys) against the events: one row per recorded message, pointing at
 *   its event, and no row pointing nowhere;
 * - events whose contact or conversation row is missing;
 * - PRAGMA integrity_check.
 */
const { DatabaseSync } = require('node:sqlite');
const fs = require('node:fs');
const { digest, MiB } = require('../common');

const WORKSPACE = 'default';
const CHANNEL = 'generic';

/** Inbound message events per provider message id: Map id -> [event ids]. */
function eventsById(db) {
  const byId = new Map();
  const rows = db
    .prepare("SELECT provider_message_id AS pid, id FROM events WHERE workspace = ? AND channel = ? AND kind = 'message' AND direction = 'inbound' AND provider_message_id IS NOT NULL")
    .iterate(WORKSPACE, CHANNEL);
  for (const row of rows) {
    const list = byId.get(row.pid);
    if (list) list.push(row.id);
    else byId.set(row.pid, [row.id]);
  }
  return byId;
}

function integrity(db) {
  const rows = db.prepare('PRAGMA integrity_check').all();
  const messages = rows.map((r) => Object.values(r)[0]);
  return messages.length === 1 && messages[0] === 'ok' ? 'ok' : messages.slice(0, 5).join('; ');
}

/**
 * `ids`: every message id, by index; `acked(i)`: whether message i got a 200; `sent(i)`: whether it was
 * sent at all. Opens `file` read-only.
 */
function checkStore(file, { ids, acked, sent }) {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const byId = eventsById(db);
    let lost = 0;
    let duplicated = 0;
    let extraEvents = 0;
    let recordedUnacknowledged = 0;
    const examples = { lost: [], duplicated: [] };
    for (let i = 0; i < ids.length; i++) {
      const events = byId.get(ids[i]);
      if (acked(i) && !events) {
        lost++;
        if (examples.lost.length < 5) examples.lost.push(ids[i]);
      }
      if (events && !acked(i)) recordedUnacknowledged++;
      if (events && events.length > 1) {
        duplicated++;
        extraEvents += events.length - 1;
        if (examples.duplicated.length < 5) examples.duplicated.push(`${ids[i]} x${events.length}`);
      }
    }
    const known = new Set(ids);
    const unexpected = [...byId.keys()].filter((pid) => !known.has(pid)).length;

    // The dedupe keys: one deliveries row per recorded message, pointing at its own event.
    const deliveries = new Map(db.prepare('SELECT dedupe_key AS k, event_id AS e FROM deliveries WHERE workspace = ?').all(WORKSPACE).map((r) => [r.k, r.e]));
    let deliveriesMissing = 0;
    let deliveriesWrongEvent = 0;
    for (const [pid, events] of byId) {
      const eventId = deliveries.get(digest('in', CHANNEL, '', pid));
      if (eventId === undefined) deliveriesMissing++;
      else if (!events.includes(eventId)) deliveriesWrongEvent++;
    }
    const deliveriesDangling = db
      .prepare('SELECT COUNT(*) AS n FROM deliveries d WHERE d.workspace = ? AND d.event_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM events e WHERE e.workspace = d.workspace AND e.id = d.event_id)')
      .get(WORKSPACE).n;
    const orphans = db
      .prepare(
        `SELECT
           SUM(NOT EXISTS (SELECT 1 FROM contacts c WHERE c.workspace = e.workspace AND c.id = e.contact_id)) AS noContact,
           SUM(e.conversation_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM conversations v WHERE v.workspace = e.workspace AND v.id = e.conversation_id)) AS noConversation
         FROM events e WHERE e.workspace = ?`,
      )
      .get(WORKSPACE);
    const count = (sql) => db.prepare(sql).get(WORKSPACE).n;
    const rows = {
      contacts: count('SELECT COUNT(*) AS n FROM contacts WHERE workspace = ?'),
      rootContacts: count('SELECT COUNT(*) AS n FROM contacts WHERE workspace = ? AND merged_into IS NULL'),
      handles: count('SELECT COUNT(*) AS n FROM handles WHERE workspace = ?'),
      conversations: count('SELECT COUNT(*) AS n FROM conversations WHERE workspace = ?'),
      events: count('SELECT COUNT(*) AS n FROM events WHERE workspace = ?'),
      deliveries: deliveries.size,
      merges: count('SELECT COUNT(*) AS n FROM merges WHERE workspace = ?'),
    };
    const eventKinds = Object.fromEntries(db.prepare('SELECT kind, COUNT(*) AS n FROM events WHERE workspace = ? GROUP BY kind').all(WORKSPACE).map((r) => [r.kind, r.n]));
    const conversationMessages = count('SELECT COALESCE(SUM(message_count), 0) AS n FROM conversations WHERE workspace = ?');
    let sentIds = 0;
    let ackedIds = 0;
    for (let i = 0; i < ids.length; i++) {
      if (sent(i)) sentIds++;
      if (acked(i)) ackedIds++;
    }
    const consistent =
      deliveriesMissing === 0 &&
      deliveriesWrongEvent === 0 &&
      deliveriesDangling === 0 &&
      !orphans.noContact &&
      !orphans.noConversation &&
      unexpected === 0 &&
      rows.deliveries === byId.size;
    return {
      sentIds,
      ackedIds,
      recordedIds: byId.size,
      inboundEvents: [...byId.values()].reduce((s, l) => s + l.length, 0),
      lost,
      duplicated,
      extraEvents,
      recordedUnacknowledged,
      unexpected,
      examples,
      deliveries: { missing: deliveriesMissing, wrongEvent: deliveriesWrongEvent, dangling: deliveriesDangling, consistent },
      orphanEvents: { noContact: orphans.noContact ?? 0, noConversation: orphans.noConversation ?? 0 },
      rows,
      eventKinds,
      conversationMessages,
      integrity: integrity(db),
      journalMode: db.prepare('PRAGMA journal_mode').get().journal_mode,
      fileMiB: MiB(fs.statSync(file).size),
      walMiB: fs.existsSync(`${file}-wal`) ? MiB(fs.statSync(`${file}-wal`).size) : 0,
    };
  } finally {
    db.close();
  }
}

/**
 * The files exactly as kill -9 left them, copied before the restart: opening the copy replays its WAL as
 * the restarted process will. Every message the dead process acknowledged must be in it.
 */
function checkCrashCopy(file, copy, { ids, ackedBeforeKill }) {
  const walMiB = fs.existsSync(`${file}-wal`) ? MiB(fs.statSync(`${file}-wal`).size) : 0;
  for (const suffix of ['', '-wal']) if (fs.existsSync(file + suffix)) fs.copyFileSync(file + suffix, copy + suffix);
  const db = new DatabaseSync(copy);
  try {
    const byId = eventsById(db);
    let missing = 0;
    let committedNotAcked = 0;
    for (let i = 0; i < ids.length; i++) {
      const has = byId.has(ids[i]);
      if (ackedBeforeKill(i) && !has) missing++;
      if (has && !ackedBeforeKill(i)) committedNotAcked++;
    }
    return { integrity: integrity(db), recordedIds: byId.size, ackedMissing: missing, committedNotAcked, walMiB };
  } finally {
    db.close();
  }
}

module.exports = { checkStore, checkCrashCopy };
