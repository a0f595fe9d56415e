/**
 * omnithread-email-in inside Node-RED 5 (node-red-node-test-helper) against a real Dovecot IMAP server
 * (test/support/dovecot-server.ts, loopback, throwaway config), and its answers through omnithread-reply
 * to a real SMTP server (smtp-server on loopback). Plus the editor file's checks against the shared IMAP
 * setting descriptions.
 *
 * Without /usr/sbin/dovecot the Dovecot suites are skipped with that reason, except in CI (process.env.CI),
 * where they fail.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { IMAP_SETTING_FIELDS, MAILBOX_SETTING_FIELDS } from '../../shared';
import type { Omnithread } from '../../shared';
import { DovecotServer, TEST_MAIL_DATE, describeWithDovecot, startDovecot, testMail } from '../support/dovecot-server';
import { useRuntimeClock } from '../support/clock';
import { FlowNode, collect, helper, loadFlow, tempDir, unloadFlow, waitForStatus } from '../support/node-red-helper';
import { SmtpCapture, startSmtpCapture } from '../support/smtp-capture';

const suite = describeWithDovecot('the omnithread-email-in tests');

const mail = testMail;

const TAB = { id: 'f1', type: 'tab' };
const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms));

suite('omnithread-email-in against Dovecot', () => {
  // Answers are stamped by the nodes' clock: five minutes after the test mails were written, whatever the day.
  useRuntimeClock(new Date(Date.parse(TEST_MAIL_DATE) + 5 * 60_000).toISOString());
  let server: DovecotServer;
  let smtp: SmtpCapture;
  let dir: string;
  let cleanup: () => void;
  let n = 0;
  let mailbox: string;

  beforeAll(async () => {
    server = await startDovecot();
    smtp = await startSmtpCapture();
  });
  afterAll(async () => {
    await smtp?.close();
    await server?.stop();
  });
  beforeEach(async () => {
    ({ dir, cleanup } = tempDir());
    mailbox = `NodeRed${++n}`;
    const c = await server.client();
    await c.mailboxCreate(mailbox);
    await c.logout();
    smtp.mails.length = 0;
  });
  afterEach(async () => {
    await unloadFlow();
    cleanup();
  });

  const storeConfig = (): FlowNode => ({ id: 'store', type: 'omnithread-store', storeType: 'sqlite', sqlitePath: join(dir, 'omnithread.db'), workspace: 'nodered', autoMergeTrust: 'channel' });
  /** The node as the editor saves it; a long interval, so only the first poll and input msgs poll. */
  const emailIn = (extra: Record<string, unknown> = {}): FlowNode => ({
    id: 'ei',
    z: 'f1',
    type: 'omnithread-email-in',
    store: 'store',
    host: server.host,
    port: String(server.port),
    secure: false,
    user: server.user,
    allowUnauthorizedCerts: false,
    mailbox,
    after: 'seen',
    moveTo: '',
    errorFolder: '',
    address: 'support@shop.io',
    interval: '3600',
    wires: [['out']],
    ...extra,
  });
  const catcher: FlowNode[] = [
    { id: 'catcher', z: 'f1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'f1', type: 'helper' },
  ];
  const load = (extra: Record<string, unknown> = {}, password = server.password, more: FlowNode[] = []) =>
    loadFlow([TAB, storeConfig(), emailIn(extra), { id: 'out', z: 'f1', type: 'helper' }, ...catcher, ...more], { ei: { password } });

  const flags = (mailbox: string) => server.flags(mailbox);

  test('two mails become two msgs shaped like omnithread-in\'s; a redeploy on the same store sends nothing again; an input msg checks now', async () => {
    await server.append(mail('<first@fastmail.fm>', { body: 'My parcel never arrived.' }), mailbox);
    await server.append(
      mail('<second@fastmail.fm>', { subject: 'Re: Order 1234', inReplyTo: '<first@fastmail.fm>', body: 'It is order 1234.\r\n\r\nOn Mon, 2 Jun 2025 at 10:00, Maya Lind <maya@fastmail.fm> wrote:\r\n> My parcel never arrived.' }),
      mailbox,
    );
    await load();
    const out = collect('out');
    const [first, second] = await out.next(2);
    for (const msg of [first, second]) {
      expect(msg.topic).toBe(msg.payload.contactId);
      expect(msg.payload).toMatchObject({ channel: 'email', message: { channel: 'email', channelAccount: 'support@shop.io', from: { handles: [{ kind: 'email', value: 'maya@fastmail.fm', trust: 'channel' }] } } });
      expect(msg.payload.event).toMatchObject({ kind: 'message', direction: 'inbound', channel: 'email' });
      expect(msg.payload.identity).toHaveProperty('explanation');
    }
    expect(first.payload.text).toBe('My parcel never arrived.');
    expect(second.payload.text).toBe('It is order 1234.'); // the quoted history is stripped
    expect(second.payload.message.metadata.fullText).toMatch(/wrote:/);
    expect(second.payload.contactId).toBe(first.payload.contactId);
    expect(second.payload.conversation.id).toBe(first.payload.conversation.id);
    expect(second.payload.message.replyTo).toMatchObject({ to: 'maya@fastmail.fm', messageId: '<second@fastmail.fm>', subject: 'Re: Order 1234' });
    await waitForStatus(helper.getNode('ei'), { fill: 'green', shape: 'dot' });
    expect((helper.getNode('ei').status.args.at(-1)?.[0] as { text: string }).text).toMatch(/^2 new \(\d\d:\d\d\)$/);
    const seen = await flags(mailbox);
    expect([...seen.values()].every((f) => f.has('\\Seen'))).toBe(true);

    // Redeploy: the node closes and a new one starts on the same store file; the cursor is in the store.
    await unloadFlow();
    await load();
    const again = collect('out');
    await waitForStatus(helper.getNode('ei'), { fill: 'green', shape: 'ring' });
    expect((helper.getNode('ei').status.args.at(-1)?.[0] as { text: string }).text).toMatch(/^no new mail/);
    await settle();
    expect(again.messages).toHaveLength(0);

    // A new mail, and a "check now" msg: exactly that mail.
    await server.append(mail('<third@fastmail.fm>', { body: 'Any news?' }), mailbox);
    helper.getNode('ei').receive({ payload: 'check now' });
    const [third] = await again.next(1);
    expect(third.payload).toMatchObject({ text: 'Any news?', contactId: first.payload.contactId });
    await settle();
    expect(again.messages).toHaveLength(1);
    expect(helper.getNode('ei').error.args).toHaveLength(0);
  });

  test('a malformed mail between two good ones: the good ones are sent, a warning names the bad one, and it is not retried', async () => {
    await server.append(mail('<g1@fastmail.fm>'), mailbox);
    await server.append(mail('<bad@fastmail.fm>', { from: null }), mailbox);
    await server.append(mail('<g3@fastmail.fm>'), mailbox);
    await load();
    const out = collect('out');
    const msgs = await out.next(2);
    expect(msgs.map((m) => m.payload.message.providerMessageId)).toEqual(['<g1@fastmail.fm>', '<g3@fastmail.fm>']);
    const node = helper.getNode('ei');
    await waitForStatus(node, { fill: 'yellow' });
    expect((node.status.args.at(-1)?.[0] as { text: string }).text).toMatch(/^2 new, 1 unreadable/);
    expect(node.warn.args).toHaveLength(1);
    expect(String(node.warn.args[0][0])).toMatch(/UID 2 .*skipped for good \(left unread in the mailbox\).*no usable From address.*\(field from\)/);

    // The next check does not read it again.
    helper.getNode('ei').receive({});
    await waitForStatus(node, { fill: 'green', shape: 'ring' });
    await settle();
    expect(out.messages).toHaveLength(2);
    expect(node.warn.args).toHaveLength(1);
    const f = await flags(mailbox);
    expect(f.get(2)?.has('\\Seen')).toBe(false);
    expect(f.get(3)?.has('\\Seen')).toBe(true);
  });

  test('move mode moves recorded mails to the folder', async () => {
    await server.append(mail('<mv1@fastmail.fm>'), mailbox);
    await server.append(mail('<mv2@fastmail.fm>'), mailbox);
    const moveTo = `${mailbox}-done`;
    await load({ after: 'move', moveTo });
    await collect('out').next(2);
    await waitForStatus(helper.getNode('ei'), { fill: 'green', shape: 'dot' });
    expect((await flags(mailbox)).size).toBe(0);
    expect((await flags(moveTo)).size).toBe(2);
  });

  test('a wrong password: the Catch node gets AUTH_FAILED, the status is red, nothing is sent; an input msg gets the same error', async () => {
    await server.append(mail('<never@fastmail.fm>'), mailbox);
    await load({}, 'not-the-password');
    const caught = collect('caught');
    const out = collect('out');
    const [msg] = await caught.next(1, 10_000);
    expect(msg.error).toMatchObject({ code: 'AUTH_FAILED', source: { id: 'ei', type: 'omnithread-email-in' } });
    expect(msg.payload).toMatchObject({ host: server.host, user: server.user, mailbox });
    await waitForStatus(helper.getNode('ei'), { fill: 'red', text: 'auth failed' });

    helper.getNode('ei').receive({ topic: 'check now' });
    const [, second] = await caught.next(2, 10_000);
    expect(second).toMatchObject({ topic: 'check now', error: { code: 'AUTH_FAILED' } });
    expect(out.messages).toHaveLength(0);
    expect((await flags(mailbox)).get(1)?.has('\\Seen')).toBe(false);
  });

  test('invalid settings are reported at deploy and by every input msg, without polling', async () => {
    await load({ after: 'move', moveTo: '' });
    const node = helper.getNode('ei');
    await waitForStatus(node, { fill: 'red', text: 'bad settings' });
    expect(String(node.error.args[0][0])).toMatch(/moveTo/);
    const caught = collect('caught');
    node.receive({ topic: 'check now' });
    const [msg] = await caught.next();
    expect(msg.error).toMatchObject({ code: 'INVALID_INPUT', cause: { field: 'moveTo' } });
  });

  test('the answer goes out over SMTP in the customer\'s thread and is on the timeline; a second run sends nothing', async () => {
    await server.append(mail('<order@fastmail.fm>', { subject: 'Order 1234', body: 'Where is my parcel?' }), mailbox);
    const reply: FlowNode = {
      id: 'r1',
      z: 'f1',
      type: 'omnithread-reply',
      store: 'store',
      emailAccount: 'smtp',
      channel: 'same',
      text: 'It ships tomorrow.',
      fallback: true,
      replyKey: 'reply',
      authorName: 'Support bot',
      authorType: 'ai',
      wires: [['sent']],
    };
    const account: FlowNode = { id: 'smtp', type: 'omnithread-channel', name: 'Support mailbox', channel: 'email', host: smtp.host, port: String(smtp.port), secure: false, user: smtp.user, from: 'support@shop.io', fromName: 'Acme Support' };
    await loadFlow(
      [TAB, storeConfig(), { ...emailIn(), wires: [['r1', 'out']] }, reply, account, { id: 'out', z: 'f1', type: 'helper' }, { id: 'sent', z: 'f1', type: 'helper' }, ...catcher],
      { ei: { password: server.password }, smtp: { password: smtp.password } },
    );
    const [inbound] = await collect('out').next();
    const sent = collect('sent');
    const [result] = await sent.next(1, 10_000);
    expect(result.payload).toMatchObject({ duplicate: false, channel: 'email', via: 'message' });
    const [{ envelope, mail: wire }] = await smtp.waitFor(1);
    expect(envelope).toEqual({ from: 'support@shop.io', to: ['maya@fastmail.fm'] });
    expect(wire.from?.value[0]).toMatchObject({ address: 'support@shop.io', name: 'Acme Support' });
    expect(wire.subject).toBe('Re: Order 1234');
    expect(wire.inReplyTo).toBe('<order@fastmail.fm>');
    expect(wire.references).toEqual('<order@fastmail.fm>');
    expect(wire.text?.trim()).toBe('It ships tomorrow.');
    expect(wire.messageId).toBe(result.payload.providerMessageId);

    const ot = await (helper.getNode('store') as unknown as { omnithread: Promise<Omnithread> }).omnithread;
    const events = (await ot.timeline(inbound.payload.contactId, { kinds: ['message'] })).events;
    expect(events.map((e) => [e.direction, e.channel, e.text])).toEqual([
      ['inbound', 'email', 'Where is my parcel?'],
      ['outbound', 'email', 'It ships tomorrow.'],
    ]);

    // The same msg again (a re-run of the flow): already sent, nothing on the wire.
    helper.getNode('r1').receive({ payload: inbound.payload });
    const [, again] = await sent.next(2);
    expect(again.payload).toMatchObject({ duplicate: true, channel: 'email' });
    await settle();
    expect(smtp.mails).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------
// The editor file: rows, defaults and help as the shared IMAP setting descriptions say.
// ---------------------------------------------------------------------------------------------

describe('omnithread-email-in editor file', () => {
  const html = readFileSync(join(__dirname, '..', '..', 'nodes', 'node-red', 'omnithread-email-in.html'), 'utf8');
  const defs: Record<string, { defaults: Record<string, { value: unknown }>; credentials?: Record<string, { type: string }>; inputs: number; outputs: number }> = {};
  const validator = () => () => true;
  for (const [, script] of html.matchAll(/<script type="text\/javascript">([\s\S]*?)<\/script>/g)) {
    runInNewContext(script, { RED: { nodes: { registerType: (t: string, d: (typeof defs)[string]) => (defs[t] = d) }, validators: { number: validator, regex: validator } } });
  }
  const def = defs['omnithread-email-in'];
  const template = /<script type="text\/html" data-template-name="omnithread-email-in">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
  const help = /<script type="text\/markdown" data-help-name="omnithread-email-in">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';

  test('one input (check now) and one output', () => {
    expect(def).toMatchObject({ inputs: 1, outputs: 1 });
    expect(def.defaults.interval.value).toBe('60');
    expect(help).toMatch(/### Inputs/);
  });

  test.each([...IMAP_SETTING_FIELDS, ...MAILBOX_SETTING_FIELDS].map((f) => [f.name, f] as const))('%s: label, kind, placeholder, default and help follow the shared field', (_name, field) => {
    const row = new RegExp(`<label for="node-input-${field.name}">(?:<i [^>]*></i>)?\\s*([^<]*)</label>\\s*<(input|select)([^>]*)>`).exec(template);
    const [, label, tag, attributes] = row ?? [];
    const kind = field.secret ? 'password' : field.type === 'boolean' ? 'checkbox' : field.type === 'options' ? 'select' : 'text';
    expect({ label: label?.trim(), kind: tag === 'select' ? 'select' : /type="([a-z]+)"/.exec(attributes ?? '')?.[1] }).toEqual({ label: field.displayName, kind });
    if (field.placeholder) expect(attributes).toContain(`placeholder="${field.placeholder}"`);
    if (field.secret) expect(def.credentials?.[field.name]).toEqual({ type: 'password' });
    else expect(def.defaults[field.name]?.value).toEqual(field.default ?? '');
    for (const option of field.options ?? []) expect(template).toContain(`<option value="${option.value}">${option.name}</option>`);
    expect(help).toContain(`: ${field.displayName} (`);
  });
});
