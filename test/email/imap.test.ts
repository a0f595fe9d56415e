/**
 * The IMAP poller core (shared/email/imap.ts) against a real Dovecot (Debian's dovecot-imapd, started by
 * test/support/dovecot-server.ts on a loopback port with a throwaway config), ingesting through parseEmail +
 * ot.ingest on a temp SQLite store.
 *
 * RFC 3501: 2.3.1.1 (UID, UIDVALIDITY), 6.4.8 (UID SEARCH "N:*"), 2.3.2 (\Seen); RFC 6851 (MOVE).
 * Without /usr/sbin/dovecot the suite is skipped with that reason, except in CI (process.env.CI), where it fails.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Omnithread, OmnithreadError, Store, createOmnithread, openStore } from '../../shared';
import { parseEmail } from '../../shared/channels/email';
import { Cursor, CursorStore, ImapPollOptions, MemoryCursorStore, cursorKey, pollMailbox } from '../../shared/email/imap';
import { DovecotServer, describeWithDovecot, startDovecot, testMail } from '../support/dovecot-server';

const suite = describeWithDovecot('the IMAP poller tests');

const mail = testMail;

suite('IMAP poller against Dovecot', () => {
  let server: DovecotServer;
  let store: Store;
  let dir: string;
  let n = 0;

  beforeAll(async () => {
    server = await startDovecot();
    dir = mkdtempSync(join(tmpdir(), 'omnithread-imap-'));
    store = await openStore({ type: 'sqlite', path: join(dir, 'omnithread.db') });
  });
  afterAll(async () => {
    await store?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A mailbox of its own for each test, holding the given mails; an Omnithread on a workspace of its own. */
  async function setup(mails: string[] = []): Promise<{ options: ImapPollOptions; ot: Omnithread; mailbox: string }> {
    const mailbox = `Test${++n}`;
    const c = await server.client();
    await c.mailboxCreate(mailbox);
    await c.logout();
    for (const m of mails) await server.append(m, mailbox);
    const options: ImapPollOptions = { host: server.host, port: server.port, secure: false, user: server.user, password: server.password, mailbox };
    return { options, ot: createOmnithread({ store, workspace: `imap-${process.pid}-${n}` }), mailbox };
  }

  /** onMessage that parses and ingests, recording each result. */
  function ingester(ot: Omnithread, mailbox = 'support@shop.io') {
    const results: { uid: number; duplicate: boolean; conversation: string; contact: string; messageId: string }[] = [];
    const onMessage = async (raw: Buffer, uid: number) => {
      const r = await ot.ingest(await parseEmail(raw, { mailbox }));
      results.push({ uid, duplicate: r.duplicate, conversation: r.conversation.id, contact: r.contact.id, messageId: r.message.providerMessageId! });
    };
    return { results, onMessage };
  }

  const flags = (mailbox: string) => server.flags(mailbox);

  test('processes each mail once, threads the reply, marks \\Seen; a second poll processes nothing', async () => {
    const { options, ot, mailbox } = await setup([mail('<a1@fastmail.fm>'), mail('<b1@other.io>', { from: 'jon@other.io', subject: 'Hi' }), mail('<a2@fastmail.fm>', { inReplyTo: '<a1@fastmail.fm>', subject: 'Re: Order 1234' })]);
    const cursors = new MemoryCursorStore();
    const { results, onMessage } = ingester(ot);
    const first = await pollMailbox(options, cursors, onMessage);
    expect(first).toMatchObject({ processed: 3, failed: 0, uidValidityChanged: false, cursor: { lastUid: 3 } });
    expect(results.map((r) => r.uid)).toEqual([1, 2, 3]);
    expect(results.every((r) => !r.duplicate)).toBe(true);
    expect(results[2].conversation).toBe(results[0].conversation);
    expect(results[2].contact).toBe(results[0].contact);
    expect(results[1].contact).not.toBe(results[0].contact);
    expect([...(await flags(mailbox)).values()].every((f) => f.has('\\Seen'))).toBe(true);
    expect(await cursors.load(cursorKey(options))).toEqual(first.cursor);

    const second = await pollMailbox(options, cursors, onMessage);
    expect(second).toMatchObject({ processed: 0, failed: 0, uidValidityChanged: false, cursor: first.cursor });
    expect(results).toHaveLength(3);
  });

  test('a restarted poller (new instance, same cursor store) reads only the new mails', async () => {
    const { options, ot } = await setup([mail('<r1@fastmail.fm>'), mail('<r2@fastmail.fm>')]);
    const cursors = new MemoryCursorStore();
    const before = ingester(ot);
    expect((await pollMailbox(options, cursors, before.onMessage)).processed).toBe(2);
    await server.append(mail('<r3@fastmail.fm>', { inReplyTo: '<r1@fastmail.fm>' }), options.mailbox);
    await server.append(mail('<r4@fastmail.fm>'), options.mailbox);
    // "Restart": a new process with a fresh Omnithread on the same store and the persisted cursors.
    const persisted = new MemoryCursorStore();
    persisted.entries.set(cursorKey(options), (await cursors.load(cursorKey(options)))!);
    const after = ingester(createOmnithread({ store, workspace: ot.workspace }));
    const result = await pollMailbox({ ...options }, persisted, after.onMessage);
    expect(result).toMatchObject({ processed: 2, cursor: { lastUid: 4 } });
    expect(after.results.map((r) => [r.uid, r.messageId, r.duplicate])).toEqual([
      [3, '<r3@fastmail.fm>', false],
      [4, '<r4@fastmail.fm>', false],
    ]);
    expect(after.results[0].conversation).toBe(before.results[0].conversation);
  });

  test('a crash between processing and saving the cursor re-reads that one mail; ingest answers duplicate', async () => {
    const { options, ot } = await setup([mail('<c1@fastmail.fm>'), mail('<c2@fastmail.fm>'), mail('<c3@fastmail.fm>')]);
    const memory = new MemoryCursorStore();
    let crashOn: number | undefined = 2;
    const crashing: CursorStore = {
      load: (key) => memory.load(key),
      save: async (key, cursor: Cursor) => {
        if (cursor.lastUid === crashOn) {
          crashOn = undefined;
          throw new Error('process killed');
        }
        await memory.save(key, cursor);
      },
    };
    const { results, onMessage } = ingester(ot);
    await expect(pollMailbox(options, crashing, onMessage)).rejects.toThrow('process killed');
    expect((await memory.load(cursorKey(options)))?.lastUid).toBe(1);
    const again = await pollMailbox(options, crashing, onMessage);
    expect(again).toMatchObject({ processed: 2, cursor: { lastUid: 3 } });
    expect(results.map((r) => [r.uid, r.duplicate])).toEqual([
      [1, false],
      [2, false],
      [2, true],
      [3, false],
    ]);
    const contact = results[0].contact;
    expect(await ot.recentInbound(contact)).toHaveLength(3);
  });

  test('a UIDVALIDITY change resets the cursor, re-reads the mailbox, and ingest dedupes by Message-ID', async () => {
    const { options, ot, mailbox } = await setup([mail('<u1@fastmail.fm>'), mail('<u2@fastmail.fm>')]);
    const cursors = new MemoryCursorStore();
    const { results, onMessage } = ingester(ot);
    const first = await pollMailbox(options, cursors, onMessage);
    // The mailbox is deleted and recreated (as a restore from backup would): new UIDVALIDITY, UIDs from 1 again.
    const c = await server.client();
    await c.mailboxDelete(mailbox);
    await c.mailboxCreate(mailbox);
    await c.logout();
    await server.append(mail('<u1@fastmail.fm>'), mailbox);
    await server.append(mail('<u2@fastmail.fm>'), mailbox);
    await server.append(mail('<u3@fastmail.fm>'), mailbox);
    const second = await pollMailbox(options, cursors, onMessage);
    expect(second.uidValidityChanged).toBe(true);
    expect(second.cursor.uidValidity).not.toBe(first.cursor.uidValidity);
    expect(second).toMatchObject({ processed: 3, cursor: { lastUid: 3 } });
    expect(results.slice(2).map((r) => [r.messageId, r.duplicate])).toEqual([
      ['<u1@fastmail.fm>', true],
      ['<u2@fastmail.fm>', true],
      ['<u3@fastmail.fm>', false],
    ]);
    expect(await ot.recentInbound(results[0].contact)).toHaveLength(3);
    expect((await pollMailbox(options, cursors, onMessage)).uidValidityChanged).toBe(false);
  });

  test('a malformed mail is reported through onError, skipped for good, and the next mail is processed', async () => {
    const { options, ot, mailbox } = await setup([mail('<m1@fastmail.fm>'), mail('<m2@fastmail.fm>', { from: null }), mail('<m3@fastmail.fm>')]);
    const cursors = new MemoryCursorStore();
    const { results, onMessage } = ingester(ot);
    const errors: { uid: number; error: OmnithreadError }[] = [];
    const result = await pollMailbox(options, cursors, onMessage, (error, uid) => errors.push({ uid, error }));
    expect(result).toMatchObject({ processed: 2, failed: 1, cursor: { lastUid: 3 } });
    expect(results.map((r) => r.uid)).toEqual([1, 3]);
    expect(errors).toHaveLength(1);
    expect(errors[0].uid).toBe(2);
    expect(errors[0].error).toBeInstanceOf(OmnithreadError);
    expect(errors[0].error.code).toBe('INVALID_INPUT');
    expect(errors[0].error.message).toMatch(/UID 2 .*skipped: The mail has no usable From address/);
    // Not retried; left unread for a human.
    expect((await pollMailbox(options, cursors, onMessage, (error, uid) => errors.push({ uid, error }))).failed).toBe(0);
    expect(errors).toHaveLength(1);
    const f = await flags(mailbox);
    expect(f.get(2)?.has('\\Seen')).toBe(false);
    expect(f.get(3)?.has('\\Seen')).toBe(true);
  });

  test('a store failure stops the poll without moving the cursor past the failing mail', async () => {
    const { options } = await setup([mail('<s1@fastmail.fm>'), mail('<s2@fastmail.fm>')]);
    const cursors = new MemoryCursorStore();
    let calls = 0;
    const failing = async (_raw: Buffer, uid: number) => {
      calls++;
      if (uid === 2) throw new OmnithreadError('STORE_UNAVAILABLE', 'database down');
    };
    await expect(pollMailbox(options, cursors, failing)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect((await cursors.load(cursorKey(options)))?.lastUid).toBe(1);
    expect((await pollMailbox(options, cursors, async () => undefined)).processed).toBe(1);
    expect(calls).toBe(2);
  });

  test("after: 'move' moves processed mails to the folder (created when missing)", async () => {
    const { options, ot, mailbox } = await setup([mail('<v1@fastmail.fm>'), mail('<v2@fastmail.fm>')]);
    const moveTo = `${mailbox}-done`;
    const { results, onMessage } = ingester(ot);
    const result = await pollMailbox({ ...options, after: 'move', moveTo }, new MemoryCursorStore(), onMessage);
    expect(result).toMatchObject({ processed: 2 });
    expect(results).toHaveLength(2);
    expect((await flags(mailbox)).size).toBe(0);
    expect((await flags(moveTo)).size).toBe(2);
    await expect(pollMailbox({ ...options, after: 'move' }, new MemoryCursorStore(), onMessage)).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'moveTo' });
  });

  test('a wrong password is AUTH_FAILED; a closed port is PROVIDER_ERROR; a missing mailbox is NOT_FOUND', async () => {
    const { options } = await setup();
    const noop = async () => undefined;
    const auth = await pollMailbox({ ...options, password: 'wrong' }, new MemoryCursorStore(), noop).catch((e) => e);
    expect(auth).toBeInstanceOf(OmnithreadError);
    expect(auth.code).toBe('AUTH_FAILED');
    expect(auth.message).toContain(server.user);
    expect(JSON.stringify(auth.details ?? {})).not.toContain('wrong');
    const { createServer } = await import('node:net');
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    await expect(pollMailbox({ ...options, port: closed, timeoutMs: 3000 }, new MemoryCursorStore(), noop)).rejects.toMatchObject({ code: 'PROVIDER_ERROR' });
    await expect(pollMailbox({ ...options, mailbox: 'NoSuchBox' }, new MemoryCursorStore(), noop)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
