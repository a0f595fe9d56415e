/**
 * The seed's story in Node-RED 5, through the nodes' real paths (test/support/seed-story.ts says what
 * happens): omnithread-in over real HTTP for the web chat, WhatsApp and the phone line, omnithread-email-in
 * polling a real Dovecot, omnithread-reply answering on WhatsApp through a local server standing in for
 * the Cloud API, and omnithread-timeline giving the phone agent the transcript.
 */
import { join } from 'node:path';
import request from 'supertest';
import { acquireStore, setRuntimeClock } from '../../shared';
import { fixedClock, runningClock } from '../support/clock';
import { DovecotServer, describeWithDovecot, startDovecot } from '../support/dovecot-server';
import { FlowNode, collect, helper, loadFlow, tempDir, unloadFlow } from '../support/node-red-helper';
import { ProviderServer, startProvider } from '../support/provider-server';
import { AT, STORY, STORY_TEXT, agentMail, expectStoryEnd, incomingCall, mayaMail, transcription, webchatBody, whatsappMessage, whatsappRead, whatsappSendAnswer } from '../support/seed-story';

const suite = describeWithDovecot('the seed story in Node-RED');

suite('the seed story, in Node-RED', () => {
  let dovecot: DovecotServer;
  let whatsappApi: ProviderServer;
  let dir: string;
  let cleanup: () => void;
  beforeAll(async () => {
    [dovecot, whatsappApi] = await Promise.all([startDovecot(), startProvider(() => ({ status: 200, body: whatsappSendAnswer }))]);
    ({ dir, cleanup } = tempDir());
  });
  afterAll(async () => {
    setRuntimeClock(undefined);
    await unloadFlow();
    await Promise.all([dovecot?.stop(), whatsappApi?.close()]);
    cleanup?.();
  });

  const at = (iso: string) => setRuntimeClock(fixedClock(iso));

  test('web chat, email with an agent answer from the support mailbox, WhatsApp, a call: one Maya, one timeline, one transcript', async () => {
    const c = await dovecot.client();
    await c.mailboxCreate('Story').finally(() => c.logout());
    // No node id equals a setting's value ('whatsapp' is a channel): Node-RED would read it as a config node reference.
    const flow: FlowNode[] = [
      { id: 'f1', type: 'tab' },
      { id: 'store', type: 'omnithread-store', storeType: 'sqlite', sqlitePath: join(dir, 'omnithread.db'), workspace: 'story', autoMergeTrust: 'channel' },
      { id: 'wa', type: 'omnithread-channel', channel: 'whatsapp', apiVersion: 'v21.0', apiBaseUrl: whatsappApi.base },
      { id: 'in-chat', z: 'f1', type: 'omnithread-in', store: 'store', path: '/omnithread/webchat', channel: 'webchat', siteId: STORY.site, respond: 'ack', wires: [['out']] },
      { id: 'in-whatsapp', z: 'f1', type: 'omnithread-in', store: 'store', path: '/omnithread/whatsapp', channel: 'whatsapp', respond: 'ack', wires: [['reply-wa', 'out']] },
      { id: 'reply-wa', z: 'f1', type: 'omnithread-reply', store: 'store', whatsappAccount: 'wa', channel: 'same', text: STORY_TEXT.reply, fallback: false, replyKey: 'answer', wires: [['replied']] },
      { id: 'in-phone', z: 'f1', type: 'omnithread-in', store: 'store', path: '/omnithread/voice', channel: 'voice', publicUrl: STORY.voiceUrl, respond: 'ack', wires: [['out']] },
      // prettier-ignore
      { id: 'in-mail', z: 'f1', type: 'omnithread-email-in', store: 'store', host: dovecot.host, port: String(dovecot.port), secure: false, user: dovecot.user, mailbox: 'Story', after: 'seen', address: 'support@shop.io', interval: '3600', wires: [['out']] },
      { id: 'phone-agent', z: 'f1', type: 'omnithread-timeline', store: 'store', operation: 'transcript', maxTokens: 4000, wires: [['agent-view']] },
      { id: 'out', z: 'f1', type: 'helper' },
      { id: 'replied', z: 'f1', type: 'helper' },
      { id: 'agent-view', z: 'f1', type: 'helper' },
    ];
    at(AT.chat);
    const app = await loadFlow(flow, {
      'in-chat': { identitySecret: STORY.identitySecret },
      'in-whatsapp': { appSecret: STORY.appSecret, verifyToken: 'story-verify' },
      wa: { accessToken: 'story-token' },
      'in-phone': { authToken: STORY.twilioAuthToken },
      'in-mail': { password: dovecot.password },
    });
    const out = collect('out');
    const replied = collect('replied');
    const post = (path: string, d: { body: string; headers: Record<string, string>; contentType: string }) => {
      let req = request(app).post(path).set('content-type', d.contentType);
      for (const [name, value] of Object.entries(d.headers)) req = req.set(name, value);
      return req.send(d.body);
    };

    // 1. The web chat, signed in, her phone typed in the pre-chat form. (The mailbox is still empty: its
    //    first poll, at deploy, found nothing.)
    const chat = await post('/omnithread/webchat', { body: webchatBody(), headers: {}, contentType: 'application/json' });
    expect(chat.body).toMatchObject({ recorded: 1, identity: 'verified' });
    await out.next(1);

    // 2. The next day she emails; then Tom's answer from the support mailbox lands there too: recorded as ours, no msg.
    await dovecot.append(mayaMail(), 'Story');
    at(AT.email);
    helper.getNode('in-mail').receive({ topic: 'check now' });
    const [, email] = await out.next(2, 10_000);
    expect(email.payload.text).toBe(STORY_TEXT.email);
    await dovecot.append(agentMail(), 'Story');
    at(AT.agentMail);
    helper.getNode('in-mail').receive({ topic: 'check now' });
    await new Promise((r) => setTimeout(r, 1500));
    expect(out.messages).toHaveLength(2);

    // 3. WhatsApp from the same phone, delivered twice; the flow answers her on WhatsApp, once; she reads it.
    // The flow answers as soon as the message is in: its clock runs on from the message's time.
    setRuntimeClock(runningClock(AT.whatsapp));
    expect((await post('/omnithread/whatsapp', whatsappMessage())).body).toMatchObject({ recorded: 1 });
    const [sent] = await replied.next(1, 10_000);
    expect(sent.payload).toMatchObject({ duplicate: false, channel: 'whatsapp', providerMessageId: STORY.ourWhatsAppReply });
    at(AT.whatsapp);
    expect((await post('/omnithread/whatsapp', whatsappMessage())).body).toMatchObject({ recorded: 0, duplicates: 1 });
    at(AT.read);
    expect((await post('/omnithread/whatsapp', whatsappRead())).body).toMatchObject({ statuses: { recorded: 1 } });
    expect(whatsappApi.seen).toHaveLength(1);

    // 4. She calls; her voicemail is transcribed.
    at(AT.call);
    expect((await post('/omnithread/voice', incomingCall())).status).toBe(200);
    at(AT.transcription);
    expect((await post('/omnithread/voice', transcription())).status).toBe(200);
    const messages = await out.next(5);
    const contactId = messages[4].payload.contactId as string;

    // 5. The phone agent looks her up: omnithread-timeline's transcript.
    const transcript = collect('agent-view');
    helper.getNode('phone-agent').receive({ payload: { contactId } });
    const [{ payload }] = await transcript.next(1);
    const { store, release } = await acquireStore({ type: 'sqlite', path: join(dir, 'omnithread.db') });
    try {
      expect(await expectStoryEnd(store, 'story', payload.text)).toBe(messages[0].payload.contactId);
    } finally {
      await release();
    }
  });
});
