/**
 * The shipped flow workflows/node-red/email-webchat-continuity.json, read from its file and run inside
 * Node-RED 5 with the settings an admin fills in after import pointed at real servers: Dovecot for IMAP
 * (test/support/dovecot-server.ts) and smtp-server for SMTP, the web chat driven over real HTTP.
 *
 * The story: a signed-in visitor chats on the site (verified email) and sees the answer in the widget's
 * feed; later a mail from the same address arrives; the flow recognises the same person, reads the whole
 * history (the chat included) and answers the mail in its thread, mentioning the web chat.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { webchatUserHash } from '../../shared';
import { DovecotServer, dovecotUnavailable, startDovecot } from '../support/dovecot-server';
import { FlowNode, collect, helper, loadFlow, tempDir, unloadFlow } from '../support/node-red-helper';
import { SmtpCapture, startSmtpCapture } from '../support/smtp-capture';

const FLOW_FILE = join(__dirname, '..', '..', 'workflows', 'node-red', 'email-webchat-continuity.json');
const flow = JSON.parse(readFileSync(FLOW_FILE, 'utf8')) as FlowNode[];
const SECRET = 'the-site-identity-secret';

const unavailable = dovecotUnavailable();
const withDovecot = unavailable && !process.env.CI ? describe.skip : describe;
if (unavailable && !process.env.CI) console.warn(`Skipping the email and web chat flow run: ${unavailable}`);

const only = (type: string, extra: (n: FlowNode) => boolean = () => true): FlowNode => {
  const found = flow.filter((n) => n.type === type && extra(n));
  expect(found).toHaveLength(1);
  return found[0];
};

describe('workflows/node-red/email-webchat-continuity.json', () => {
  test('an editor export: a comment first, a web chat input and an email input into identity -> transcript -> answer -> reply; no secret ships', () => {
    expect(Array.isArray(flow)).toBe(true);
    expect(flow[0].type).toBe('comment');
    expect(String(flow[0].info)).toMatch(/asset=widget\.js/);
    expect(String(flow[0].info)).toMatch(/HMAC-SHA256/);
    const core = ['comment', 'change'];
    for (const node of flow) expect(node.type.startsWith('omnithread-') || core.includes(node.type)).toBe(true);

    const chat = only('omnithread-in');
    expect(chat).toMatchObject({ channel: 'webchat', path: '/omnithread/webchat', respond: 'ack' });
    const mail = only('omnithread-email-in');
    expect(mail).toMatchObject({ host: 'imap.example.com', secure: true, mailbox: 'INBOX', after: 'seen', interval: '60' });
    const remember = flow.find((n) => n.id === (chat.wires as string[][])[0][0])!;
    expect((mail.wires as string[][])[0]).toEqual([remember.id]);
    const identity = flow.find((n) => n.id === (remember.wires as string[][])[0][0])!;
    expect(identity).toMatchObject({ type: 'omnithread-identity', operation: 'resolve' });
    const timeline = flow.find((n) => n.id === (identity.wires as string[][])[0][0])!;
    expect(timeline).toMatchObject({ type: 'omnithread-timeline', operation: 'transcript' });
    const answer = flow.find((n) => n.id === (timeline.wires as string[][])[0][0])!;
    expect(answer.type).toBe('change');
    const reply = flow.find((n) => n.id === (answer.wires as string[][])[0][0])!;
    expect(reply).toMatchObject({ type: 'omnithread-reply', channel: 'same', replyKey: 'acknowledgement' });
    expect(flow.find((n) => n.id === reply.emailAccount)).toMatchObject({ type: 'omnithread-channel', channel: 'email', host: 'smtp.example.com', from: 'support@example.com' });
    expect(JSON.stringify(flow)).not.toMatch(/"(password|identitySecret|secret)"/);
  });
});

withDovecot('the email and web chat flow, run', () => {
  let dovecot: DovecotServer;
  let smtp: SmtpCapture;
  let dir: string;
  let cleanup: () => void;

  beforeAll(async () => {
    dovecot = await startDovecot();
    smtp = await startSmtpCapture();
  });
  afterAll(async () => {
    await smtp?.close();
    await dovecot?.stop();
  });
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    // The flow's store has no file set: it lives in the user dir, here a temp folder.
    helper.settings({ userDir: dir });
  });
  afterEach(async () => {
    await unloadFlow();
    helper.settings({});
    cleanup();
  });

  test('a verified chat, then a mail from the same address: one person, the chat in the history, the mail answered in its thread mentioning the web chat', async () => {
    const chat = only('omnithread-in');
    const mailIn = only('omnithread-email-in');
    const account = only('omnithread-channel');
    const timeline = only('omnithread-timeline');
    const reply = only('omnithread-reply');
    const tab = { id: String(flow.find((n) => n.z)!.z), type: 'tab' };
    // What the admin fills in after import, pointed at the local servers (and a short interval, so the
    // mail is picked up by the node's own schedule).
    const configured = flow.map((n) => {
      if (n.id === mailIn.id) return { ...n, host: dovecot.host, port: String(dovecot.port), secure: false, user: dovecot.user, interval: '1' };
      if (n.id === account.id) return { ...n, host: smtp.host, port: String(smtp.port), user: smtp.user };
      if (n.id === timeline.id) return { ...n, wires: [[...(n.wires as string[][])[0], 'transcripts']] };
      if (n.id === reply.id) return { ...n, wires: [['replies']] };
      return n;
    });
    const app = await loadFlow([tab, ...configured, { id: 'transcripts', type: 'helper', z: tab.id }, { id: 'replies', type: 'helper', z: tab.id }], {
      [chat.id]: { identitySecret: SECRET },
      [mailIn.id]: { password: dovecot.password },
      [account.id]: { password: smtp.password },
    });
    const transcripts = collect('transcripts');
    const replies = collect('replies');

    // 1. Maya, signed in on the shop, opens the chat.
    const posted = await request(app)
      .post('/omnithread/webchat')
      .set('content-type', 'application/json')
      .send({ siteId: 'default', visitorId: 'v-maya', messageId: 'm-1', text: 'Hi, my parcel for order 1234 never arrived', user: { email: 'maya@fastmail.fm', name: 'Maya Lind', userHash: webchatUserHash(SECRET, 'maya@fastmail.fm') } });
    expect(posted.status).toBe(200);
    expect(posted.body).toMatchObject({ recorded: 1, identity: 'verified' });
    const [chatReply] = await replies.next(1, 10_000);
    expect(chatReply.payload).toMatchObject({ duplicate: false, channel: 'webchat' });
    const feed = await request(app).get('/omnithread/webchat').query({ visitorId: 'v-maya', siteId: 'default' });
    const outbound = (feed.body.messages as { direction: string; text: string }[]).filter((m) => m.direction === 'outbound');
    expect(outbound).toHaveLength(1);
    expect(outbound[0].text).toMatch(/^Thanks for your message\. An agent will follow up here shortly\.$/); // no earlier channel yet
    const [chatTranscript] = await transcripts.next(1);
    const contactId = chatTranscript.payload.contactId;

    // 2. The next day she writes to support by mail.
    await dovecot.append(
      [
        'From: Maya Lind <maya@fastmail.fm>',
        'To: support@example.com',
        'Subject: Parcel for order 1234',
        'Message-ID: <later-1234@fastmail.fm>',
        'Date: Tue, 3 Jun 2025 09:00:00 +0000',
        '',
        'Hello, still no parcel. Can you help?',
        '',
      ].join('\r\n'),
    );
    const [, mailReply] = await replies.next(2, 15_000);
    expect(mailReply.payload).toMatchObject({ duplicate: false, channel: 'email', via: 'message' });

    // The flow read one history: the same person, the chat in the transcript it answered from.
    const [, mailTranscript] = await transcripts.next(2);
    expect(mailTranscript.payload.contactId).toBe(contactId);
    expect(mailTranscript.payload.text).toContain('Hi, my parcel for order 1234 never arrived');
    expect(mailTranscript.payload.text).toContain('Hello, still no parcel. Can you help?');
    expect(mailTranscript.payload.conversations.flatMap((c: { channels: string[] }) => c.channels)).toEqual(expect.arrayContaining(['webchat', 'email']));

    // The answer on the wire: threaded, from the support mailbox, mentioning the web chat.
    const [{ envelope, mail }] = await smtp.waitFor(1);
    expect(envelope.to).toEqual(['maya@fastmail.fm']);
    expect(mail.from?.value[0]).toMatchObject({ address: 'support@example.com', name: 'Acme Support' });
    expect(mail.subject).toBe('Re: Parcel for order 1234');
    expect(mail.inReplyTo).toBe('<later-1234@fastmail.fm>');
    expect(mail.references).toBe('<later-1234@fastmail.fm>');
    expect(mail.text).toMatch(/also talked to us on web chat/);

    // The node keeps polling every second: nothing is read or answered twice.
    await new Promise((r) => setTimeout(r, 2500));
    expect(replies.messages).toHaveLength(2);
    expect(smtp.mails).toHaveLength(1);
  });
});
