/**
 * One poll of a mailbox into the timeline (shared/email/poll.ts), what both engines' email triggers call,
 * against a real Dovecot (Debian's dovecot-imapd) on both stores: the cursor lives in the store, so a
 * restart (a new Omnithread on the same store and workspace) reads nothing twice.
 * Without /usr/sbin/dovecot the suite is skipped with that reason, except in CI (process.env.CI), where it fails.
 */
import { createOmnithread, isOmnithreadError, pollEmailIntoTimeline } from '../../shared';
import { DovecotServer, describeWithDovecot, startDovecot, testMail } from '../support/dovecot-server';
import { describeStores, uniqueWorkspace } from '../support/stores';

const suite = describeWithDovecot('the email poll tests');

const mail = testMail;

suite('one poll of a mailbox into the timeline', () => {
  let server: DovecotServer;
  let folders = 0;
  beforeAll(async () => {
    server = await startDovecot();
  });
  afterAll(async () => {
    await server?.stop();
  });

  /** A folder of its own per test, so tests on both stores never see each other's mail. */
  async function folder(): Promise<string> {
    const name = `Poll${++folders}`;
    const client = await server.client();
    try {
      await client.mailboxCreate(name);
    } finally {
      await client.logout();
    }
    return name;
  }
  const settings = (mailbox: string, more: Record<string, unknown> = {}) => ({
    host: server.host,
    port: server.port,
    secure: false,
    user: server.user,
    password: server.password,
    mailbox,
    address: 'support@shop.io',
    ...more,
  });

  describeStores('pollEmailIntoTimeline', (ctx) => {
    test('new mails are recorded once, quoted history stripped; a restart on the same store reads nothing again', async () => {
      const mailbox = await folder();
      const workspace = uniqueWorkspace();
      const ot = createOmnithread({ store: ctx().store, workspace });
      await server.append(mail('<a1@fastmail.fm>', { body: 'Where is my parcel?' }), mailbox);
      await server.append(
        mail('<a2@fastmail.fm>', { inReplyTo: '<r1@shop.io>', subject: 'Re: Order 1234', body: 'Still nothing.\r\n\r\nOn Mon, 2 Jun 2025, Support wrote:\r\n> We are on it.' }),
        mailbox,
      );

      const first = await pollEmailIntoTimeline(ot, settings(mailbox));
      expect(first.error).toBeUndefined();
      expect(first.failed).toEqual([]);
      expect(first.recorded.map((r) => r.message.text)).toEqual(['Where is my parcel?', 'Still nothing.']);
      const [a, b] = first.recorded;
      expect(a.contact.id).toBe(b.contact.id);
      expect(a.contact.identities).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'email', value: 'maya@fastmail.fm', trust: 'channel' })]));
      expect(a.message).toMatchObject({ channel: 'email', channelAccount: 'support@shop.io' });

      expect((await pollEmailIntoTimeline(ot, settings(mailbox))).recorded).toEqual([]);
      const restarted = createOmnithread({ store: ctx().store, workspace });
      const again = await pollEmailIntoTimeline(restarted, settings(mailbox));
      expect(again).toMatchObject({ recorded: [], duplicates: 0, failed: [] });

      await server.append(mail('<a3@fastmail.fm>', { body: 'Found it, thanks!' }), mailbox);
      const third = await pollEmailIntoTimeline(restarted, settings(mailbox));
      expect(third.recorded.map((r) => r.message.text)).toEqual(['Found it, thanks!']);
      const timeline = await restarted.timeline(a.contact.id, { kinds: ['message'] });
      expect(timeline.events.map((e) => e.text)).toEqual(['Where is my parcel?', 'Still nothing.', 'Found it, thanks!']);
    });

    test('a malformed mail between two good ones is reported and skipped for good; the good ones are recorded', async () => {
      const mailbox = await folder();
      const ot = ctx().omnithread();
      await server.append(mail('<b1@fastmail.fm>'), mailbox);
      const badUid = await server.append(mail('<b2@fastmail.fm>', { from: null }), mailbox);
      await server.append(mail('<b3@fastmail.fm>'), mailbox);
      const result = await pollEmailIntoTimeline(ot, settings(mailbox));
      expect(result.recorded).toHaveLength(2);
      expect(result.failed).toEqual([expect.objectContaining({ uid: badUid, error: expect.stringMatching(/from/i) })]);
      expect(await pollEmailIntoTimeline(ot, settings(mailbox))).toMatchObject({ recorded: [], failed: [] });
    });

    test('a wrong password stops the poll with AUTH_FAILED and records nothing; bad settings name the field', async () => {
      const mailbox = await folder();
      const ot = ctx().omnithread();
      await server.append(mail('<c1@fastmail.fm>'), mailbox);
      const refused = await pollEmailIntoTimeline(ot, settings(mailbox, { password: 'wrong' }));
      expect(refused.recorded).toEqual([]);
      expect(refused.error?.code).toBe('AUTH_FAILED');
      let error: unknown;
      try {
        await pollEmailIntoTimeline(ot, settings(mailbox, { after: 'move' }));
      } catch (e) {
        error = e;
      }
      expect(isOmnithreadError(error, 'INVALID_INPUT') && error.field).toBe('moveTo');
      // The mail is still there for a poll with the right settings.
      expect((await pollEmailIntoTimeline(ot, settings(mailbox))).recorded).toHaveLength(1);
    });
  });
});
