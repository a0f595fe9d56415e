/**
 * The Omnithread Email Trigger (n8n polling trigger) against a real Dovecot IMAP server, its poll() run in
 * n8n-core's real PollContext, and the Reply node answering those mails over SMTP through a real SMTP server
 * (smtp-server on loopback) inside n8n's WorkflowExecute. Also both mail credentials' tests (real logins).
 *
 * Without /usr/sbin/dovecot the IMAP parts are skipped with that reason, except in CI (process.env.CI), where
 * they fail, as test/email/imap.test.ts does.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import type { ICredentialDataDecryptedObject, INode, INodeParameters } from 'n8n-workflow';
import { closeAllStores, createOmnithread, openStore } from '../../shared';
import { OmnithreadReply } from '../../nodes/n8n/OmnithreadReply/OmnithreadReply.node';
import { DovecotServer, TEST_MAIL_DATE, describeWithDovecot, startDovecot, testMail } from '../support/dovecot-server';
import { useRuntimeClock } from '../support/clock';
import {
  SmtpCapture,
  TYPES,
  buildWorkflow,
  callPoll,
  chain,
  cleanupAfterAll,
  node,
  nodeTypeInstances,
  runWorkflow,
  startSmtpCapture,
  testNodeCredential,
} from '../support/n8n-harness';

cleanupAfterAll();

const suite = describeWithDovecot('the Email Trigger tests');

const mail = testMail;

suite('Omnithread Email Trigger against Dovecot', () => {
  // Answers are stamped by the nodes' clock: five minutes after the test mails were written, whatever the day.
  useRuntimeClock(new Date(Date.parse(TEST_MAIL_DATE) + 5 * 60_000).toISOString());
  let server: DovecotServer;
  let smtp: SmtpCapture;
  let dir: string;
  let n = 0;

  beforeAll(async () => {
    [server, smtp] = await Promise.all([startDovecot(), startSmtpCapture()]);
    dir = mkdtempSync(join(tmpdir(), 'omnithread-n8n-email-'));
  });
  afterAll(async () => {
    await closeAllStores();
    await Promise.all([server?.stop(), smtp?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const sqlitePath = () => join(dir, 'omnithread.db');
  const imap = (extra: ICredentialDataDecryptedObject = {}): ICredentialDataDecryptedObject => ({
    host: server.host,
    port: String(server.port),
    secure: false,
    user: server.user,
    password: server.password,
    allowUnauthorizedCerts: false,
    ...extra,
  });
  const smtpCredential = (extra: ICredentialDataDecryptedObject = {}): ICredentialDataDecryptedObject => ({
    host: smtp.host,
    port: String(smtp.port),
    secure: false,
    user: smtp.user,
    password: smtp.password,
    from: 'support@shop.io',
    fromName: 'Shop Support',
    ...extra,
  });

  /** A folder of its own per test, holding `mails`, and the data every credential gets. */
  async function setup(mails: string[] = [], workspace = `email-${++n}`) {
    const mailbox = `Test${n}`;
    const c = await server.client();
    await c.mailboxCreate(mailbox);
    await c.logout();
    for (const m of mails) await server.append(m, mailbox);
    const credentials = (imapExtra: ICredentialDataDecryptedObject = {}) => ({
      omnithreadStoreApi: { storeType: 'sqlite', sqlitePath: sqlitePath(), workspace },
      omnithreadImapApi: imap(imapExtra),
      omnithreadSmtpApi: smtpCredential(),
    });
    return { mailbox, workspace, credentials };
  }

  const creds = { omnithreadStoreApi: { id: 's', name: 'Store' }, omnithreadImapApi: { id: 'i', name: 'Support mailbox' } };
  const trigger = (parameters: INodeParameters): INode => node('Email', TYPES.emailTrigger, parameters, { credentials: creds });

  async function messagesIn(mailbox: string): Promise<{ uid: number; seen: boolean; messageId?: string }[]> {
    const c = await server.client();
    const out: { uid: number; seen: boolean; messageId?: string }[] = [];
    try {
      const box = await c.mailboxOpen(mailbox);
      if (box.exists) for await (const m of c.fetch('1:*', { uid: true, flags: true, envelope: true })) out.push({ uid: m.uid, seen: !!m.flags?.has('\\Seen'), messageId: m.envelope?.messageId });
    } finally {
      await c.logout();
    }
    return out;
  }

  test('two new mails become two items shaped like the Omnithread Trigger\'s; a second poll and a restart emit nothing', async () => {
    const quoted = ['Still no parcel, any news?', '', 'On Mon, 2 Jun 2025 at 10:00, Shop Support <support@shop.io> wrote:', '> We are looking into it.', ''].join('\r\n');
    const { mailbox, credentials } = await setup([mail('<a1@fastmail.fm>', { body: 'My parcel #1234 never arrived.' }), mail('<a2@fastmail.fm>', { body: quoted })]);
    const workflow = buildWorkflow({ nodes: [trigger({ mailbox, address: 'support@shop.io' })], connections: {} });

    const first = await callPoll(workflow, 'Email', { credentials: credentials() });
    expect(first.items).toHaveLength(2);
    const [one, two] = first.items!.map((i) => i.json as Record<string, any>);
    expect(Object.keys(one).sort()).toEqual(['channel', 'channelSwitch', 'contact', 'contactId', 'conversation', 'event', 'identity', 'message', 'text']);
    expect(one).toMatchObject({ channel: 'email', text: 'My parcel #1234 never arrived.', message: { providerMessageId: '<a1@fastmail.fm>', channelAccount: 'support@shop.io' } });
    expect(one.message.from.handles).toEqual([{ kind: 'email', value: 'maya@fastmail.fm', trust: 'channel' }]);
    expect(one.contact.identities).toEqual([expect.objectContaining({ kind: 'email', value: 'maya@fastmail.fm', trust: 'channel' })]);
    // Quoted history stripped; the same person, the same thread.
    expect(two).toMatchObject({ text: 'Still no parcel, any news?', contactId: one.contactId });
    expect(first.warnings).toEqual([]);
    expect((await messagesIn(mailbox)).map((m) => m.seen)).toEqual([true, true]);

    expect((await callPoll(workflow, 'Email', { credentials: credentials() })).items).toBeNull();
    // A restart: every store closed, a new workflow and node; the cursor is in the store file.
    await closeAllStores();
    const restarted = buildWorkflow({ nodes: [trigger({ mailbox, address: 'support@shop.io' })], connections: {} });
    expect((await callPoll(restarted, 'Email', { credentials: credentials() })).items).toBeNull();
    // Even with the \Seen flags removed by hand, nothing is read twice.
    const c = await server.client();
    await c.mailboxOpen(mailbox);
    await c.messageFlagsRemove('1:*', ['\\Seen']);
    await c.logout();
    expect((await callPoll(restarted, 'Email', { credentials: credentials() })).items).toBeNull();

    // A new mail after the restart is the only one emitted.
    await server.append(mail('<a3@fastmail.fm>', { body: 'Found it, thanks!' }), mailbox);
    const third = await callPoll(restarted, 'Email', { credentials: credentials() });
    expect(third.items!.map((i) => i.json.text)).toEqual(['Found it, thanks!']);
  });

  test('a malformed mail between two good ones: the good ones are emitted, the bad one reported once and left unread', async () => {
    const { mailbox, credentials } = await setup([mail('<g1@fastmail.fm>'), mail('<bad@fastmail.fm>', { from: null }), mail('<g2@fastmail.fm>')]);
    const workflow = buildWorkflow({ nodes: [trigger({ mailbox })], connections: {} });
    const first = await callPoll(workflow, 'Email', { credentials: credentials() });
    expect(first.items!.map((i) => (i.json.message as { providerMessageId: string }).providerMessageId)).toEqual(['<g1@fastmail.fm>', '<g2@fastmail.fm>']);
    expect(first.warnings).toHaveLength(1);
    expect(first.warnings[0]).toMatch(/1 mail\(s\) could not be read and were skipped: UID 2: .*from/i);
    expect(await messagesIn(mailbox)).toEqual([
      { uid: 1, seen: true, messageId: '<g1@fastmail.fm>' },
      { uid: 2, seen: false, messageId: '<bad@fastmail.fm>' },
      { uid: 3, seen: true, messageId: '<g2@fastmail.fm>' },
    ]);
    // Not retried.
    const again = await callPoll(workflow, 'Email', { credentials: credentials() });
    expect(again).toEqual({ items: null, warnings: [] });

    // Only a bad mail in a poll: thrown, so the error workflow hears about it; then never again.
    await server.append(mail('<bad2@fastmail.fm>', { from: null }), mailbox);
    await expect(callPoll(workflow, 'Email', { credentials: credentials() })).rejects.toMatchObject({
      message: expect.stringMatching(/^1 mail\(s\) in the mailbox could not be read and were skipped: UID 4: /),
      description: expect.stringContaining('unread'),
    });
    expect((await callPoll(workflow, 'Email', { credentials: credentials() })).items).toBeNull();
  });

  test("'move' mode moves the recorded mails to the folder; manual mode (Fetch Test Event) polls for real", async () => {
    const { mailbox, credentials } = await setup([mail('<mv1@fastmail.fm>'), mail('<mv2@fastmail.fm>')]);
    const processed = `${mailbox}-Processed`;
    const workflow = buildWorkflow({ nodes: [trigger({ mailbox, after: 'move', moveTo: processed })], connections: {} });
    const result = await callPoll(workflow, 'Email', { credentials: credentials(), mode: 'manual' });
    expect(result.items).toHaveLength(2);
    expect(await messagesIn(mailbox)).toEqual([]);
    expect((await messagesIn(processed)).map((m) => m.messageId)).toEqual(['<mv1@fastmail.fm>', '<mv2@fastmail.fm>']);
    // What the test fetch recorded does not start the active workflow again.
    expect((await callPoll(workflow, 'Email', { credentials: credentials() })).items).toBeNull();
  });

  test('a wrong password is a clear node error (AUTH_FAILED); a missing folder names the Mailbox parameter', async () => {
    const { mailbox, credentials } = await setup([mail('<pw@fastmail.fm>')]);
    const workflow = buildWorkflow({ nodes: [trigger({ mailbox })], connections: {} });
    const refused = callPoll(workflow, 'Email', { credentials: credentials({ password: 'wrong-password' }) });
    await expect(refused).rejects.toMatchObject({
      name: 'NodeApiError',
      message: expect.stringContaining(`The IMAP server refused the login (AUTH_FAILED): The IMAP server ${server.host}:${server.port} refused the login of ${server.user}`),
      description: expect.stringContaining('Check the user and password of the Omnithread IMAP credential'),
      httpCode: '401',
    });
    expect(JSON.stringify(await refused.catch((e: unknown) => e))).not.toContain('wrong-password');

    const missing = buildWorkflow({ nodes: [trigger({ mailbox: 'NoSuchFolder' })], connections: {} });
    await expect(callPoll(missing, 'Email', { credentials: credentials() })).rejects.toMatchObject({
      name: 'NodeOperationError',
      description: expect.stringContaining('"Mailbox" parameter'),
    });
    // Nothing was read with the wrong password: the right one reads the mail.
    expect((await callPoll(workflow, 'Email', { credentials: credentials() })).items).toHaveLength(1);
  });

  test('the IMAP credential test logs in for real', async () => {
    const emailTrigger = nodeTypeInstances.emailTrigger;
    await expect(testNodeCredential(emailTrigger, 'omnithreadImapApi', imap())).resolves.toEqual({
      status: 'OK',
      message: `Logged in to the IMAP server ${server.host}:${server.port} as ${server.user}`,
    });
    await expect(testNodeCredential(emailTrigger, 'omnithreadImapApi', imap({ password: 'nope' }))).resolves.toEqual({
      status: 'Error',
      message: `AUTH_FAILED: The IMAP server ${server.host}:${server.port} refused the login of ${server.user}`,
    });
    const down = await testNodeCredential(emailTrigger, 'omnithreadImapApi', imap({ port: '1' }));
    expect(down).toEqual({ status: 'Error', message: expect.stringMatching(/^PROVIDER_ERROR: IMAP 127\.0\.0\.1:1 failed: .*ECONNREFUSED/) });
  });

  test('the SMTP credential test logs in for real', async () => {
    const reply = new OmnithreadReply();
    await expect(testNodeCredential(reply, 'omnithreadSmtpApi', smtpCredential())).resolves.toEqual({
      status: 'OK',
      message: `Connected to the SMTP server ${smtp.host}:${smtp.port} as ${smtp.user}`,
    });
    const wrong = await testNodeCredential(reply, 'omnithreadSmtpApi', smtpCredential({ password: 'nope' }));
    expect(wrong).toEqual({ status: 'Error', message: expect.stringMatching(/^AUTH_FAILED: The SMTP server refused the login: 535/) });
    const noFrom = await testNodeCredential(reply, 'omnithreadSmtpApi', smtpCredential({ from: '' }));
    expect(noFrom).toEqual({ status: 'Error', message: expect.stringMatching(/^INVALID_INPUT: .*from/) });
    expect(smtp.mails).toHaveLength(0);
  });

  test('a polled mail is answered by the Reply node over SMTP, threaded, once', async () => {
    const original = mail('<order-77@fastmail.fm>', { subject: 'Where is order 77?', body: 'Hi, where is my order 77?' });
    const { mailbox, workspace, credentials } = await setup([original]);
    const before = smtp.mails.length;
    const workflow = {
      nodes: [
        trigger({ mailbox, address: 'support@shop.io' }),
        node(
          'Reply',
          TYPES.reply,
          { channel: 'same', text: 'Thanks, order 77 ships today.', replyKey: 'ack' },
          { credentials: { omnithreadStoreApi: { id: 's', name: 'Store' }, omnithreadSmtpApi: { id: 'smtp', name: 'SMTP' } } },
        ),
      ],
      connections: chain('Email', 'Reply'),
    };
    const polled = await callPoll(buildWorkflow(workflow), 'Email', { credentials: credentials() });
    expect(polled.items).toHaveLength(1);
    const run = await runWorkflow(workflow, 'Email', polled.items!, { credentials: credentials(), mode: 'trigger' });
    expect(run.run.status).toBe('success');
    const result = run.output('Reply')[0].json as Record<string, any>;
    expect(result).toMatchObject({ duplicate: false, channel: 'email', via: 'message', providerMessageId: expect.stringMatching(/^<[0-9a-f-]+@shop\.io>$/) });

    expect(smtp.mails).toHaveLength(before + 1);
    const sent = smtp.mails[before];
    expect(sent.envelope.to).toEqual(['maya@fastmail.fm']);
    expect(sent.envelope.from).toBe('support@shop.io');
    const parsed = await simpleParser(sent.raw);
    expect(parsed.inReplyTo).toBe('<order-77@fastmail.fm>');
    expect([parsed.references].flat()).toContain('<order-77@fastmail.fm>');
    expect(parsed.subject).toBe('Re: Where is order 77?');
    expect(parsed.from?.value).toEqual([{ address: 'support@shop.io', name: 'Shop Support' }]);
    expect(parsed.messageId).toBe(result.providerMessageId);
    expect(parsed.text?.trim()).toBe('Thanks, order 77 ships today.');

    // The answer is on the timeline, as sent.
    const store = await openStore({ type: 'sqlite', path: sqlitePath() });
    try {
      const page = await createOmnithread({ store, workspace }).timeline(polled.items![0].json.contactId as string, { kinds: ['message'] });
      expect(page.events.map((e) => [e.direction, e.channel, e.text, e.data.sendState ?? null])).toEqual([
        ['inbound', 'email', 'Hi, where is my order 77?', null],
        ['outbound', 'email', 'Thanks, order 77 ships today.', 'sent'],
      ]);
    } finally {
      await store.close();
    }

    // Running the execution again (n8n's retry) sends nothing.
    const rerun = await runWorkflow(workflow, 'Email', polled.items!, { credentials: credentials(), mode: 'trigger' });
    expect(rerun.output('Reply')[0].json).toMatchObject({ duplicate: true, channel: 'email' });
    expect(smtp.mails).toHaveLength(before + 1);
  });
});
