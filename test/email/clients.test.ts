/**
 * A support mailbox as it really fills up, polled from a real Dovecot on both stores: replies written in
 * Gmail (text and HTML), Outlook (HTML only, German, a signature block without delimiter), Apple Mail on an
 * iPhone and Thunderbird (answering below the quote); an agent's answer from the support address itself;
 * a colleague forwarding to another of our addresses; a mail without a Date header. Then the Reply node
 * answers over a real SMTP server, and the copy of that answer comes back through the mailbox.
 * The mails are in test/channels/fixtures/email/clients/, written the way those clients format replies.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createOmnithread, pollEmailIntoTimeline, sendReply } from '../../shared';
import { fixedClock } from '../support/clock';
import { DovecotServer, describeWithDovecot, startDovecot } from '../support/dovecot-server';
import { SmtpCapture, startSmtpCapture } from '../support/smtp-capture';
import { describeStores, uniqueWorkspace } from '../support/stores';

const suite = describeWithDovecot('the mail-client tests');
const eml = (name: string): Buffer => readFileSync(join(__dirname, '..', 'channels', 'fixtures', 'email', 'clients', `${name}.eml`));
const ARRIVED_WITHOUT_DATE = new Date('2026-11-25T12:45:00Z');

suite('mail as support mailboxes really see it', () => {
  let server: DovecotServer;
  let smtp: SmtpCapture;
  let folders = 0;
  beforeAll(async () => {
    [server, smtp] = await Promise.all([startDovecot(), startSmtpCapture()]);
  });
  afterAll(async () => {
    await Promise.all([server?.stop(), smtp?.close()]);
  });

  describeStores('one mailbox, every client', (ctx) => {
    test('new parts only, signatures apart, our own answers as ours, internal mail left out, a Date-less mail at its arrival time', async () => {
      const mailbox = `Clients${++folders}`;
      const client = await server.client();
      await client.mailboxCreate(mailbox).finally(() => client.logout());
      for (const name of ['gmail-reply', 'agent-reply-from-support', 'outlook-html-only', 'apple-mail-reply', 'thunderbird-bottom-post', 'internal-forward']) {
        await server.append(eml(name), mailbox);
      }
      await server.append(eml('no-date'), mailbox, ARRIVED_WITHOUT_DATE);
      const ot = createOmnithread({ store: ctx().store, workspace: uniqueWorkspace(), clock: fixedClock('2026-11-25T13:00:00Z'), rules: { ownAddresses: ['shop.io'] } });
      const imap = { host: server.host, port: server.port, secure: false, user: server.user, password: server.password, mailbox, address: 'support@shop.io' };

      const poll = await pollEmailIntoTimeline(ot, imap);
      expect(poll.error).toBeUndefined();
      expect(poll.failed).toEqual([]);
      // The flow runs for the five customers' mails only.
      expect(poll.recorded.map((r) => [r.message.from.handles[0].value, r.message.text])).toEqual([
        ['maya.lindqvist@gmail.com', 'Thanks, but the tracking link still says "in transit". Can you send a\nreplacement?'],
        ['jonas.weber@firma-weber.de', 'Hallo,\n\ndie Rechnung ist immer noch nicht angekommen. Können Sie sie bitte erneut\nsenden?'],
        ['rosa.mendes@icloud.com', 'Yes please, to the same address.'],
        ['lena.vogt@posteo.de', 'Kastanienallee 12, 10435 Berlin. Danke!'],
        ['lena.vogt@posteo.de', 'Please ring twice, the bell is broken.'],
      ]);
      expect(poll.outbound.map((r) => r.message.providerMessageId)).toEqual(['<r2.44719@shop.io>']);
      expect(poll.ignored).toEqual([expect.stringMatching(/^Not recorded: <fw\.1182@shop\.io> is from our own tom@shop\.io and has no customer among its recipients/)]);

      // Maya: her question, then Tom's answer from the support address, as ours, in the same conversation.
      const maya = poll.recorded[0];
      const timeline = (await ot.timeline(maya.contact.id, { kinds: ['message'] })).events;
      expect(timeline.map((e) => [e.direction, e.text, e.conversationId])).toEqual([
        ['inbound', maya.message.text, maya.conversation.id],
        ['outbound', 'Hi Maya,\n\na replacement is on its way, arriving Friday.\n\nTom', maya.conversation.id],
      ]);
      expect(timeline[1].data.author).toEqual({ id: 'support@shop.io', name: 'Tom at Acme Support', type: 'human' });
      // The number in her signature is hers to claim: recorded, asserted, never a link on its own.
      expect(maya.contact.identities.map((i) => [i.kind, i.value, i.trust])).toEqual([
        ['email', 'maya.lindqvist@gmail.com', 'channel'],
        ['phone', '+46703184295', 'asserted'],
      ]);
      expect(maya.event?.data.metadata).toMatchObject({ signature: 'Best,\nMaya Lindqvist\nHead of Operations | Lindqvist Design AB\n+46 70 318 42 95' });
      // Jonas signed with his office line: asserted, and shared.
      expect(poll.recorded[1].contact.identities.find((i) => i.kind === 'phone')).toMatchObject({ value: '+493022394581', trust: 'asserted', shared: expect.stringMatching(/^a fixed line/) });
      // The mail without a Date is placed when the server received it, not when we polled.
      expect(poll.recorded[4].event?.occurredAt).toBe(ARRIVED_WITHOUT_DATE.toISOString());
      expect(poll.recorded[4].contact.id).toBe(poll.recorded[3].contact.id);

      // The Reply node answers Lena over SMTP; the copy of that answer lands in the mailbox (a Bcc, the
      // Sent folder of a shared inbox): it is recognised as the answer already on the timeline.
      const lena = poll.recorded[4];
      const reply = await sendReply(
        ot,
        { contactId: lena.contact.id, text: 'Noted, the driver will ring twice.' },
        { channels: { email: { host: smtp.host, port: smtp.port, secure: false, ignoreTLS: true, user: smtp.user, password: smtp.password, from: 'support@shop.io' } } },
      );
      const [sent] = (await smtp.waitFor(smtp.mails.length)).slice(-1);
      expect(sent.mail.messageId).toBe(reply.providerMessageId);
      await server.append(sent.raw, mailbox);
      const again = await pollEmailIntoTimeline(ot, imap);
      expect([again.recorded.length, again.outbound.length, again.duplicates]).toEqual([0, 0, 1]);
      expect((await ot.timeline(lena.contact.id, { kinds: ['message'] })).events.filter((e) => e.direction === 'outbound')).toHaveLength(1);
    });
  });
});
