/**
 * The seed's story in n8n, through the nodes' real paths (test/support/seed-story.ts says what happens):
 * the Omnithread Trigger's webhook() for the web chat, WhatsApp and the phone line, the Omnithread Email
 * Trigger's poll() against a real Dovecot, the Reply node answering on WhatsApp through a local server
 * that stands in for the Cloud API, and the Timeline Lookup node giving the phone agent the transcript.
 */
import type { INodeExecutionData } from 'n8n-workflow';
import { acquireStore, resolveSettings, setRuntimeClock } from '../../shared';
import { fixedClock } from '../support/clock';
import { DovecotServer, describeWithDovecot, startDovecot } from '../support/dovecot-server';
import { TYPES, buildWorkflow, callPoll, callWebhook, chain, cleanupAfterAll, node, runWorkflow } from '../support/n8n-harness';
import { ProviderServer, startProvider } from '../support/provider-server';
import { AT, STORY, STORY_TEXT, agentMail, expectStoryEnd, incomingCall, mayaMail, transcription, webchatBody, whatsappMessage, whatsappRead, whatsappSendAnswer } from '../support/seed-story';

cleanupAfterAll();
const suite = describeWithDovecot('the seed story in n8n');

suite('the seed story, in n8n', () => {
  let dovecot: DovecotServer;
  let whatsappApi: ProviderServer;
  beforeAll(async () => {
    [dovecot, whatsappApi] = await Promise.all([startDovecot(), startProvider(() => ({ status: 200, body: whatsappSendAnswer }))]);
  });
  afterAll(async () => {
    setRuntimeClock(undefined);
    await Promise.all([dovecot?.stop(), whatsappApi?.close()]);
  });

  const at = (iso: string) => setRuntimeClock(fixedClock(iso));
  const trigger = (name: string, parameters: Record<string, unknown>, webhookId: string) => node(name, TYPES.trigger, parameters as never, { webhookId });
  const webhook = async (name: string, parameters: Record<string, unknown>, webhookId: string, delivery: { body: string; headers: Record<string, string>; contentType: string }) =>
    callWebhook(buildWorkflow({ nodes: [trigger(name, parameters, webhookId)], connections: {} }), name, delivery);

  test('web chat, email with an agent answer from the support mailbox, WhatsApp, a call: one Maya, one timeline, one transcript', async () => {
    // 1. The web chat on the shop's site, signed in, her phone typed in the pre-chat form.
    at(AT.chat);
    const chat = await webhook('Web Chat', { channel: 'webchat', siteId: STORY.site, identitySecret: STORY.identitySecret }, 'a0000000-0000-4000-8000-00000000c4a7', {
      body: webchatBody(),
      headers: {},
      contentType: 'application/json',
    });
    expect(chat.result.webhookResponse).toMatchObject({ recorded: 1, identity: 'verified' });

    // 2. The next day she emails; Tom answers from the support mailbox (its copy is in the mailbox too).
    const c = await dovecot.client();
    await c.mailboxCreate('Story').finally(() => c.logout());
    await dovecot.append(mayaMail(), 'Story');
    const email = buildWorkflow({ nodes: [node('Email', TYPES.emailTrigger, { mailbox: 'Story', address: 'support@shop.io' }, { credentials: { omnithreadImapApi: { id: 'i', name: 'Support mailbox' } } })], connections: {} });
    const imap = { omnithreadImapApi: { host: dovecot.host, port: String(dovecot.port), secure: false, user: dovecot.user, password: dovecot.password, allowUnauthorizedCerts: false } };
    at(AT.email);
    const mail = await callPoll(email, 'Email', { credentials: imap });
    expect(mail.items?.map((i) => i.json.text)).toEqual([STORY_TEXT.email]);
    await dovecot.append(agentMail(), 'Story');
    at(AT.agentMail);
    // Tom's answer is recorded as ours: it does not start the workflow as if a customer wrote.
    expect((await callPoll(email, 'Email', { credentials: imap })).items).toBeNull();

    // 3. WhatsApp from the same phone; Meta delivers it twice. The workflow answers her on WhatsApp, once.
    at(AT.whatsapp);
    const whatsapp = { channel: 'whatsapp', appSecret: STORY.appSecret, verifyToken: 'story-verify' };
    const WA_HOOK = 'a0000000-0000-4000-8000-0000000000a1';
    const first = await webhook('WhatsApp', whatsapp, WA_HOOK, whatsappMessage());
    expect(first.items).toHaveLength(1);
    expect((await webhook('WhatsApp', whatsapp, WA_HOOK, whatsappMessage())).items).toHaveLength(0);
    at(AT.whatsappReply);
    const answer = {
      nodes: [
        trigger('WhatsApp', whatsapp, WA_HOOK),
        node('Reply', TYPES.reply, { contactId: '={{ $json.contact.id }}', channel: 'same', text: STORY_TEXT.reply, replyKey: 'answer' }, { credentials: { omnithreadWhatsAppApi: { id: 'wa', name: 'WhatsApp' } } }),
      ],
      connections: chain('WhatsApp', 'Reply'),
    };
    const run = await runWorkflow(answer, 'WhatsApp', first.items as INodeExecutionData[], {
      credentials: { omnithreadWhatsAppApi: { accessToken: 'story-token', phoneNumberId: '', apiVersion: 'v21.0', apiBaseUrl: whatsappApi.base } },
    });
    expect(run.output('Reply')[0].json).toMatchObject({ duplicate: false, channel: 'whatsapp', providerMessageId: STORY.ourWhatsAppReply });
    expect(whatsappApi.seen).toHaveLength(1);
    at(AT.read);
    expect((await webhook('WhatsApp', whatsapp, WA_HOOK, whatsappRead())).result.webhookResponse).toMatchObject({ statuses: { recorded: 1 } });

    // 4. She calls; her voicemail is transcribed.
    const voice = { channel: 'voice', authToken: STORY.twilioAuthToken, publicUrl: STORY.voiceUrl };
    const VOICE_HOOK = 'a0000000-0000-4000-8000-0000000000b2';
    at(AT.call);
    expect((await webhook('Phone', voice, VOICE_HOOK, incomingCall())).items).toHaveLength(1);
    at(AT.transcription);
    const voicemail = await webhook('Phone', voice, VOICE_HOOK, transcription());
    expect(voicemail.items).toHaveLength(1);

    // 5. The phone agent looks her up: the Timeline Lookup node's transcript.
    const lookup = await runWorkflow(
      { nodes: [node('Start', TYPES.input), node('Timeline Lookup', TYPES.timeline, { operation: 'getTranscript', contactId: '={{ $json.contactId }}', maxTokens: 4000 })], connections: chain('Start', 'Timeline Lookup') },
      'Start',
      [{ json: { contactId: voicemail.items[0].json.contactId } }],
    );
    const transcript = lookup.output('Timeline Lookup')[0].json as { text: string };
    const { store } = await acquireStore(resolveSettings(undefined, 'n8n').store);
    expect(await expectStoryEnd(store, 'default', transcript.text)).toBe(chat.items[0].json.contactId);
  });
});
