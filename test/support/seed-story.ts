/**
 * The product's own story (shared/seed), as real-format deliveries both engines' tests play through
 * their real trigger paths: Maya chats on the shop's site, signed in (her email verified by the site's
 * user hash) and typing her phone in the pre-chat form; the next day she emails the support mailbox and
 * Tom answers her from that mailbox in his mail client; that afternoon she writes on WhatsApp from the
 * same phone (Meta delivers it twice) and reads our WhatsApp answer (a read receipt); then she calls, and
 * her voicemail is transcribed. At the end there is one Maya, one chronological timeline with Tom's mail
 * as ours, and the transcript the phone agent reads holds all of it.
 *
 * Each step carries its own time: the test moves the nodes' clock to it (setRuntimeClock), so the story
 * reads the same on any day the suite runs.
 */
import { Store, createOmnithread, metaSignature, webchatUserHash } from '../../shared';
import { twilioSignature } from './signatures';

export const STORY = {
  site: 'shop',
  identitySecret: 'shop-identity-secret',
  visitorId: 'v-maya-laptop',
  email: 'maya@fastmail.fm',
  phone: '+447911123456',
  waId: '447911123456',
  waba: '102290129340398',
  phoneNumberId: '106540352242922',
  appSecret: 'story-meta-app-secret',
  twilioAuthToken: 'story-twilio-token',
  voiceUrl: 'https://support.example.com/webhooks/voice',
  accountSid: 'AC0123456789abcdef0123456789abcdef',
  ourNumber: '+441615550100',
  /** What the WhatsApp stand-in answers for our reply. */
  ourWhatsAppReply: 'wamid.story-reply-1',
} as const;

/** When each step happens (the nodes' clock is moved to it). */
export const AT = {
  chat: '2026-11-24T10:00:00Z',
  email: '2026-11-25T09:00:00Z',
  agentMail: '2026-11-25T09:40:00Z',
  whatsapp: '2026-11-25T15:00:00Z',
  whatsappReply: '2026-11-25T15:01:00Z',
  read: '2026-11-25T15:03:00Z',
  call: '2026-11-25T16:00:00Z',
  transcription: '2026-11-25T16:02:00Z',
} as const;

const TEXT = {
  chat: 'Hi, my parcel 44719 never arrived. Can you check?',
  email: "Following up on yesterday's chat: the parcel 44719 is still not here.",
  agent: 'Hi Maya, I have asked the courier. You will hear from us today. Tom',
  whatsapp: 'Any news about 44719? I am home all afternoon.',
  reply: 'The courier will deliver 44719 before 6 pm today.',
  transcription: 'hi this is maya about parcel four four seven one nine it still has not come please call me back',
};
export const STORY_TEXT = TEXT;

/** The web chat widget's POST: a signed-in customer (user hash), and the phone typed in the pre-chat form. */
export function webchatBody(): string {
  return JSON.stringify({
    siteId: STORY.site,
    visitorId: STORY.visitorId,
    messageId: 'm-1',
    text: TEXT.chat,
    user: { email: STORY.email, name: 'Maya Lindqvist', userHash: webchatUserHash(STORY.identitySecret, STORY.email) },
    phone: '+44 7911 123456',
    fields: { orderNumber: '44719' },
    page: { url: 'https://shop.example/orders/44719', title: 'Order 44719' },
  });
}

const crlf = (lines: string[]) => lines.join('\r\n');
const MAYA_MAIL_ID = '<CAG2x-maya-1@mail.fastmail.fm>';

/** Maya's mail to the support mailbox (Fastmail, plain text, her signature without delimiter). */
export function mayaMail(): string {
  return crlf([
    'From: Maya Lindqvist <maya@fastmail.fm>',
    'To: Acme Support <support@shop.io>',
    'Subject: Parcel 44719',
    `Date: ${new Date(AT.email).toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: ${MAYA_MAIL_ID}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    TEXT.email,
    '',
    'Kind regards,',
    'Maya Lindqvist',
    '',
  ]);
}

/** Tom's answer from the support mailbox in his own mail client (its copy is in the mailbox). */
export function agentMail(): string {
  return crlf([
    'From: Tom at Acme Support <support@shop.io>',
    'To: Maya Lindqvist <maya@fastmail.fm>',
    'Subject: Re: Parcel 44719',
    `Date: ${new Date(AT.agentMail).toUTCString().replace('GMT', '+0000')}`,
    'Message-ID: <tom-1@shop.io>',
    `In-Reply-To: ${MAYA_MAIL_ID}`,
    `References: ${MAYA_MAIL_ID}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    TEXT.agent,
    '',
    `On ${new Date(AT.email).toUTCString()}, Maya Lindqvist <maya@fastmail.fm> wrote:`,
    `> ${TEXT.email}`,
    '',
  ]);
}

const signedMeta = (payload: unknown) => {
  const body = JSON.stringify(payload);
  return { body, headers: { 'x-hub-signature-256': metaSignature(STORY.appSecret, body) }, contentType: 'application/json' };
};
const unix = (iso: string) => String(Math.floor(Date.parse(iso) / 1000));
const waValue = (extra: Record<string, unknown>) => ({
  object: 'whatsapp_business_account',
  entry: [{ id: STORY.waba, changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { display_phone_number: '15550783881', phone_number_id: STORY.phoneNumberId }, ...extra } }] }],
});

/** Her WhatsApp message, as the Cloud API delivers it (see test/channels/fixtures/whatsapp/README.md). */
export function whatsappMessage(): { body: string; headers: Record<string, string>; contentType: string } {
  return signedMeta(
    waValue({
      contacts: [{ profile: { name: 'Maya' }, wa_id: STORY.waId }],
      messages: [{ from: STORY.waId, id: 'wamid.story-maya-1', timestamp: unix(AT.whatsapp), type: 'text', text: { body: TEXT.whatsapp } }],
    }),
  );
}

/** The read receipt of our WhatsApp answer. */
export function whatsappRead(): { body: string; headers: Record<string, string>; contentType: string } {
  return signedMeta(waValue({ statuses: [{ id: STORY.ourWhatsAppReply, status: 'read', timestamp: unix(AT.read), recipient_id: STORY.waId }] }));
}

/** What the WhatsApp Cloud API stand-in answers to our send. */
export const whatsappSendAnswer = { messaging_product: 'whatsapp', contacts: [{ input: STORY.waId, wa_id: STORY.waId }], messages: [{ id: STORY.ourWhatsAppReply }] };

function signedTwilio(params: Record<string, string>) {
  return { body: new URLSearchParams(params).toString(), headers: { 'x-twilio-signature': twilioSignature(STORY.twilioAuthToken, STORY.voiceUrl, params) }, contentType: 'application/x-www-form-urlencoded' };
}
const CALL_SID = 'CA5f3c0e1b2a4d6f8091a2b3c4d5e6f7a8';

/** Twilio's incoming-call webhook, then the transcription callback of her voicemail. */
export function incomingCall() {
  return signedTwilio({
    AccountSid: STORY.accountSid,
    ApiVersion: '2010-04-01',
    CallSid: CALL_SID,
    CallStatus: 'ringing',
    Called: STORY.ourNumber,
    Caller: STORY.phone,
    Direction: 'inbound',
    From: STORY.phone,
    FromCountry: 'GB',
    To: STORY.ourNumber,
    ToCountry: 'GB',
  });
}
export function transcription() {
  return signedTwilio({
    AccountSid: STORY.accountSid,
    ApiVersion: '2010-04-01',
    CallSid: CALL_SID,
    CallStatus: 'completed',
    Direction: 'inbound',
    From: STORY.phone,
    To: STORY.ourNumber,
    RecordingSid: 'RE5f3c0e1b2a4d6f8091a2b3c4d5e6f7a8',
    RecordingUrl: `https://api.twilio.com/2010-04-01/Accounts/${STORY.accountSid}/Recordings/RE5f3c0e1b2a4d6f8091a2b3c4d5e6f7a8`,
    TranscriptionSid: 'TR5f3c0e1b2a4d6f8091a2b3c4d5e6f7a8',
    TranscriptionStatus: 'completed',
    TranscriptionText: TEXT.transcription,
    TranscriptionUrl: `https://api.twilio.com/2010-04-01/Accounts/${STORY.accountSid}/Transcriptions/TR5f3c0e1b2a4d6f8091a2b3c4d5e6f7a8`,
  });
}

/** The end of the story, whichever engine played it; `transcript` is what the engine's Timeline Lookup gave. */
export async function expectStoryEnd(store: Store, workspace: string, transcript: string): Promise<string> {
  const ot = createOmnithread({ store, workspace });
  const maya = (await ot.findContact({ kind: 'email', value: STORY.email }))!;
  // One contact, found by every handle she used.
  for (const handle of [
    { kind: 'phone' as const, value: STORY.phone },
    { kind: 'webchat_visitor' as const, scope: STORY.site, value: STORY.visitorId },
    { kind: 'whatsapp_id' as const, scope: STORY.waba, value: STORY.waId },
  ]) {
    expect((await ot.findContact(handle))?.id).toBe(maya.id);
  }
  expect(maya.attributes).toMatchObject({ webchat: { orderNumber: '44719' } });
  // One chronological timeline across four channels, Tom's mail as ours, the redelivery recorded once.
  const events = (await ot.timeline(maya.id, { kinds: ['message', 'call'] })).events;
  expect(events.map((e) => [e.channel, e.direction, e.kind, e.text])).toEqual([
    ['webchat', 'inbound', 'message', TEXT.chat],
    ['email', 'inbound', 'message', TEXT.email],
    ['email', 'outbound', 'message', TEXT.agent],
    ['whatsapp', 'inbound', 'message', TEXT.whatsapp],
    ['whatsapp', 'outbound', 'message', TEXT.reply],
    ['voice', 'inbound', 'call', 'Incoming call'],
    ['voice', 'inbound', 'message', TEXT.transcription],
  ]);
  // Each at its own time; our WhatsApp answer when the flow sent it (an engine's flow may run at once).
  const times = events.map((e) => Date.parse(e.occurredAt));
  expect(times.filter((_, i) => i !== 4)).toEqual([AT.chat, AT.email, AT.agentMail, AT.whatsapp, AT.call, AT.transcription].map((t) => Date.parse(t)));
  expect(times[4]).toBeGreaterThanOrEqual(Date.parse(AT.whatsapp));
  expect(times[4]).toBeLessThanOrEqual(Date.parse(AT.whatsappReply));
  const all = (await ot.timeline(maya.id)).events;
  const ours = events[4];
  expect(all.find((e) => e.kind === 'status' && e.data.of === ours.id)?.data.status).toBe('read');
  // The phone agent's transcript holds all of it: every channel, what she said and what we answered.
  for (const line of [TEXT.chat, TEXT.email, `Agent (Tom at Acme Support): ${TEXT.agent}`, TEXT.whatsapp, TEXT.reply, 'The customer called', TEXT.transcription]) {
    expect(transcript).toContain(line);
  }
  return maya.id;
}
