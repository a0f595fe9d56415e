/**
 * workflows/n8n/email-webchat-continuity.json, executed as shipped (plus what an admin fills in after
 * import: the web chat's identity secret and allowed origin, the IMAP credential on Email, the SMTP
 * credential on Reply). The product story: Maya chats on the site, signed in (verified email), and gets the
 * answer in her widget's feed; later she writes to the support mailbox (a real Dovecot), the Email Trigger
 * picks it up, the workflow sees the chat on her timeline and answers by email through a real SMTP server,
 * threaded under her mail and mentioning the web chat.
 *
 * Without /usr/sbin/dovecot the email half is skipped with that reason, except in CI (process.env.CI).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import type { IWorkflowBase } from 'n8n-workflow';
import { webchatUserHash } from '../../shared';
import { DovecotServer, dovecotUnavailable, startDovecot } from '../support/dovecot-server';
import { PACKAGE, SmtpCapture, TYPES, buildWorkflow, callPoll, callWebhook, cleanupAfterAll, runWorkflow, startSmtpCapture } from '../support/n8n-harness';

cleanupAfterAll();

const shipped = JSON.parse(readFileSync(join(__dirname, '..', '..', 'workflows', 'n8n', 'email-webchat-continuity.json'), 'utf8')) as IWorkflowBase;
const SECRET = 'template-identity-secret';
const ORIGIN = 'https://shop.example';

const unavailable = dovecotUnavailable();
const withDovecot = unavailable && !process.env.CI ? test.skip : test;
if (unavailable && !process.env.CI) console.warn(`Skipping the email half of the email/web chat template test: ${unavailable}`);

describe('workflows/n8n/email-webchat-continuity.json', () => {
  test('Web Chat and Email triggers into Identity Resolve -> Timeline Lookup -> Reply, importable as is', () => {
    expect(shipped.id).toBe('OmniEmailChat001');
    const ours = shipped.nodes.filter((n) => n.type.startsWith(`${PACKAGE}.`));
    expect(ours.map((n) => [n.name, n.type])).toEqual([
      ['Web Chat', TYPES.trigger],
      ['Email', TYPES.emailTrigger],
      ['Identity Resolve', TYPES.identity],
      ['Timeline Lookup', TYPES.timeline],
      ['Reply', TYPES.reply],
      ['Omnithread Desk', TYPES.desk],
    ]);
    // The agents' desk ships with the template: its own URL, nothing wired to it (it starts no executions).
    expect(shipped.nodes.find((n) => n.name === 'Omnithread Desk')).toMatchObject({ parameters: { path: 'desk' }, webhookId: expect.any(String) });
    expect(shipped.connections['Omnithread Desk']).toBeUndefined();
    expect(shipped.nodes.find((n) => n.name === 'Web Chat')).toMatchObject({
      parameters: { channel: 'webchat' },
      webhookId: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
    });
    for (const name of ['Web Chat', 'Email']) expect(shipped.connections[name].main[0]).toEqual([{ node: 'Identity Resolve', type: 'main', index: 0 }]);
    expect(shipped.connections['Identity Resolve'].main[0]![0].node).toBe('Timeline Lookup');
    expect(shipped.connections['Timeline Lookup'].main[0]![0].node).toBe('Reply');
    expect(shipped.nodes.find((n) => n.name === 'Reply')!.parameters).toMatchObject({ channel: 'same', replyKey: 'acknowledgement' });
    expect(new Set(shipped.nodes.map((n) => n.id)).size).toBe(shipped.nodes.length);
    // No secrets and no credential ids ship with a template: the admin sets them.
    expect(ours.every((n) => n.credentials === undefined)).toBe(true);
    expect(JSON.stringify(ours.map((n) => n.parameters))).not.toMatch(/identitySecret|password|allowedOrigins/);
  });

  describe('the story', () => {
    let server: DovecotServer | undefined;
    let smtp: SmtpCapture;
    beforeAll(async () => {
      smtp = await startSmtpCapture();
      if (!unavailable || process.env.CI) server = await startDovecot();
    });
    afterAll(async () => {
      await Promise.all([server?.stop(), smtp?.close()]);
    });

    /** The template as an admin leaves it after import. */
    function configured(): IWorkflowBase {
      const workflow = JSON.parse(JSON.stringify(shipped)) as IWorkflowBase;
      for (const n of workflow.nodes) {
        if (n.name === 'Web Chat') n.parameters = { ...n.parameters, siteId: 'shop', identitySecret: SECRET, allowedOrigins: ORIGIN };
        if (n.name === 'Email') n.credentials = { omnithreadImapApi: { id: 'imap', name: 'Support mailbox' } };
        if (n.name === 'Reply') n.credentials = { omnithreadSmtpApi: { id: 'smtp', name: 'Support SMTP' } };
      }
      return workflow;
    }
    const credentials = () => ({
      omnithreadImapApi: { host: server!.host, port: String(server!.port), secure: false, user: server!.user, password: server!.password, allowUnauthorizedCerts: false },
      omnithreadSmtpApi: { host: smtp.host, port: String(smtp.port), secure: false, user: smtp.user, password: smtp.password, from: 'support@shop.io', fromName: 'Shop Support' },
    });

    withDovecot('Maya chats on the site, then emails: one contact, the chat in the email\'s transcript, a threaded email reply that mentions it', async () => {
      const template = configured();
      const workflow = buildWorkflow(template);

      // 1. The web chat, signed in: her email is verified by the site's user hash.
      const maya = 'maya.lindqvist@fastmail.fm';
      const chat = { siteId: 'shop', visitorId: 'v-maya-template', messageId: 'm-1', text: 'Hi, my parcel #5521 never arrived.', user: { email: maya, name: 'Maya Lindqvist', userHash: webchatUserHash(SECRET, maya) } };
      const posted = await callWebhook(workflow, 'Web Chat', { body: chat, headers: { origin: ORIGIN } });
      expect(posted.result.webhookResponse).toMatchObject({ recorded: 1, identity: 'verified' });
      const chatRun = await runWorkflow(template, 'Web Chat', posted.items, { credentials: credentials() });
      expect(chatRun.run.status).toBe('success');
      const chatReply = chatRun.output('Reply')[0].json as Record<string, any>;
      expect(chatReply).toMatchObject({ duplicate: false, channel: 'webchat', via: 'message' });
      // First contact: nothing earlier to mention.
      expect(chatReply.event.text).toBe('Thanks for your message. An agent will follow up right here.');
      const feed = await callWebhook(workflow, 'Web Chat', { method: 'GET', body: '', query: { siteId: 'shop', visitorId: 'v-maya-template' }, headers: { origin: ORIGIN } });
      expect((feed.sent.body as { messages: { direction: string; text: string }[] }).messages.map((m) => [m.direction, m.text])).toEqual([
        ['inbound', chat.text],
        ['outbound', 'Thanks for your message. An agent will follow up right here.'],
      ]);
      expect(smtp.mails).toHaveLength(0);

      // 2. Later, an email from the same address arrives in the support mailbox.
      const original = [
        `From: Maya Lindqvist <${maya}>`,
        'To: support@shop.io',
        'Subject: Parcel #5521',
        'Message-ID: <parcel-5521@fastmail.fm>',
        `Date: ${new Date().toUTCString()}`,
        '',
        'Following up on my chat: still no parcel.',
        '',
      ].join('\r\n');
      await server!.append(original);
      const polled = await callPoll(workflow, 'Email', { credentials: credentials() });
      expect(polled.items).toHaveLength(1);
      const emailItem = polled.items![0].json as Record<string, any>;
      expect(emailItem).toMatchObject({ channel: 'email', contactId: posted.items[0].json.contactId, channelSwitch: { from: 'webchat', to: 'email' } });

      const emailRun = await runWorkflow(template, 'Email', polled.items!, { credentials: credentials(), mode: 'trigger' });
      expect(emailRun.run.status).toBe('success');
      expect((emailRun.output('Identity Resolve')[0].json.contact as { id: string }).id).toBe(emailItem.contactId);
      const transcript = emailRun.output('Timeline Lookup')[0].json as { contactId: string; text: string };
      expect(transcript.contactId).toBe(emailItem.contactId);
      expect(transcript.text).toContain('Customer: Hi, my parcel #5521 never arrived.');
      expect(transcript.text).toContain('Customer: Following up on my chat: still no parcel.');
      const emailReply = emailRun.output('Reply')[0].json as Record<string, any>;
      expect(emailReply).toMatchObject({ duplicate: false, channel: 'email', via: 'message' });

      expect(smtp.mails).toHaveLength(1);
      expect(smtp.mails[0].envelope.to).toEqual([maya]);
      const sent = await simpleParser(smtp.mails[0].raw);
      expect(sent.inReplyTo).toBe('<parcel-5521@fastmail.fm>');
      expect([sent.references].flat()).toContain('<parcel-5521@fastmail.fm>');
      expect(sent.subject).toBe('Re: Parcel #5521');
      expect(sent.from?.value).toEqual([{ address: 'support@shop.io', name: 'Shop Support' }]);
      expect(sent.text?.trim()).toBe(
        'Thanks for your message. We can see you also reached us by web chat, and we have that conversation too, so there is no need to repeat anything. An agent will follow up right here.',
      );

      // The next poll has nothing new; a re-run of the execution sends nothing again.
      expect((await callPoll(workflow, 'Email', { credentials: credentials() })).items).toBeNull();
      const rerun = await runWorkflow(template, 'Email', polled.items!, { credentials: credentials(), mode: 'trigger' });
      expect(rerun.output('Reply')[0].json).toMatchObject({ duplicate: true });
      expect(smtp.mails).toHaveLength(1);
    });
  });
});
