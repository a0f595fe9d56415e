/**
 * The Reply node in n8n's engine (WorkflowExecute), sending through the channels' real send code to a
 * local node:http server that checks each request as the provider documents it; and the five provider
 * credentials (fields generated from the channels' sendFields, test requests).
 */
import { buildWorkflow, chain, cleanupAfterAll, node, registerNodeType, runWorkflow } from '../support/n8n-harness';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ICredentialDataDecryptedObject, ICredentialType, INode, INodeParameters } from 'n8n-workflow';
import { CHANNELS, omnithreadFor, resolveSettings, type Omnithread } from '../../shared';
import { OmnithreadReply } from '../../nodes/n8n/OmnithreadReply/OmnithreadReply.node';
import { OmnithreadWhatsAppApi } from '../../credentials/OmnithreadWhatsAppApi.credentials';
import { OmnithreadMetaPageApi } from '../../credentials/OmnithreadMetaPageApi.credentials';
import { OmnithreadTelegramApi } from '../../credentials/OmnithreadTelegramApi.credentials';
import { OmnithreadTwilioApi } from '../../credentials/OmnithreadTwilioApi.credentials';
import { OmnithreadXApi } from '../../credentials/OmnithreadXApi.credentials';
import { message, phone, scoped } from '../support/messages';
import { ProviderAnswer, ProviderRequest, ProviderServer, startProvider } from '../support/provider-server';

const REPLY = '@omnithread/n8n-nodes-omnithread.omnithreadReply';
registerNodeType(REPLY, new OmnithreadReply());
cleanupAfterAll();

const HOUR = 3600_000;
const dir = mkdtempSync(join(tmpdir(), 'omnithread-n8n-reply-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const storeData = { storeType: 'sqlite', sqlitePath: join(dir, 'reply.db'), workspace: 'reply-tests' };

// ------------------------------------------------------------------------------------------------
// A local provider: records every request, answers with what the test sets per path.
// ------------------------------------------------------------------------------------------------
let provider: ProviderServer;
let base = '';
let seen: ProviderRequest[] = [];
const answers = new Map<string, () => ProviderAnswer>();

beforeAll(async () => {
  provider = await startProvider(({ url }) => answers.get(url)?.() ?? { status: 404, body: { error: { message: `no route ${url}` } } });
  ({ base, seen } = provider);
});
afterAll(() => provider.close());
beforeEach(() => {
  seen.length = 0;
  answers.clear();
});

// ------------------------------------------------------------------------------------------------
// The store the node writes to (the same cached Omnithread as the node's), and a workflow with Reply.
// ------------------------------------------------------------------------------------------------
let ot: Omnithread;
beforeAll(async () => {
  ot = await omnithreadFor(resolveSettings(storeData as never, 'n8n'));
});

const TG_TOKEN = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';
const credentialsData = (): Record<string, ICredentialDataDecryptedObject> => ({
  omnithreadStoreApi: storeData,
  omnithreadWhatsAppApi: { accessToken: 'wa-token', phoneNumberId: '', apiVersion: 'v21.0', apiBaseUrl: base },
  omnithreadTelegramApi: { botToken: TG_TOKEN, apiBaseUrl: base },
});
const allSet = {
  omnithreadStoreApi: { id: 's', name: 'Store' },
  omnithreadWhatsAppApi: { id: 'w', name: 'WhatsApp' },
  omnithreadTelegramApi: { id: 't', name: 'Telegram' },
};

async function runReply(parameters: INodeParameters, input: object, extra: Partial<INode> = {}, credentials: INode['credentials'] = allSet) {
  return runWorkflow(
    { nodes: [node('Input', 'test.input'), node('Reply', REPLY, parameters, { credentials, ...extra })], connections: chain('Input', 'Reply') },
    'Input',
    [{ json: input as never }],
    { credentials: credentialsData() },
  );
}

let people = 0;
/** A person who wrote on WhatsApp (`hoursAgo` ago), and optionally on Telegram before that. */
async function whatsappPerson(hoursAgo = 0.1, withTelegram = false) {
  people += 1;
  const number = `+4479110${String(people).padStart(5, '0')}`;
  const digits = number.slice(1);
  if (withTelegram) {
    await ot.ingest(
      message([scoped('telegram_user', 'bot1', String(9000 + people)), phone(number)], {
        channel: 'telegram',
        channelAccount: 'bot1',
        replyTo: { chatId: 9000 + people },
        text: 'from telegram',
        sentAt: new Date(Date.now() - (hoursAgo + 1) * HOUR).toISOString(),
      }),
    );
  }
  const wa = await ot.ingest(
    message([phone(number)], {
      channel: 'whatsapp',
      channelAccount: 'pn1',
      replyTo: { to: digits, phoneNumberId: 'pn1' },
      text: 'Where is my order?',
      sentAt: new Date(Date.now() - hoursAgo * HOUR).toISOString(),
    }),
  );
  // What the Omnithread Trigger puts out: contactId and event.
  return { digits, chatId: 9000 + people, contactId: wa.contact.id, input: { contactId: wa.contact.id, event: { id: wa.event!.id } } };
}

const waSent = (id: string): ProviderAnswer => ({ status: 200, body: { messaging_product: 'whatsapp', contacts: [{ input: 'x', wa_id: 'x' }], messages: [{ id }] } });

describe('Reply node', () => {
  test('answers a WhatsApp message through the Cloud API, and a re-run of the workflow sends nothing', async () => {
    const person = await whatsappPerson();
    answers.set('/v21.0/pn1/messages', () => waSent('wamid.reply-1'));
    const first = await runReply({ text: 'Your order ships today' }, person.input);
    const [item] = first.output('Reply');
    expect(item.json).toMatchObject({ duplicate: false, channel: 'whatsapp', via: 'message', providerMessageId: 'wamid.reply-1', explanation: 'Sent on whatsapp' });
    expect(item.pairedItem).toEqual({ item: 0 });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/v21.0/pn1/messages' });
    expect(seen[0].headers.authorization).toBe('Bearer wa-token');
    expect(seen[0].body).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: person.digits,
      type: 'text',
      text: { body: 'Your order ships today', preview_url: false },
    });

    const again = await runReply({ text: 'Your order ships today (regenerated)' }, person.input);
    expect(again.output('Reply')[0].json).toMatchObject({ duplicate: true, channel: 'whatsapp', providerMessageId: 'wamid.reply-1' });
    expect(seen).toHaveLength(1);
    const outbound = (await ot.timeline(person.contactId, { kinds: ['message'] })).events.filter((e) => e.direction === 'outbound');
    expect(outbound).toHaveLength(1);
    expect(outbound[0].data).toMatchObject({ sendState: 'sent' });
  });

  test('outside the 24-hour window: the WhatsApp template when one is set', async () => {
    const person = await whatsappPerson(25);
    answers.set('/v21.0/pn1/messages', () => waSent('wamid.template-1'));
    const result = await runReply(
      { text: 'Your parcel is on its way', whatsappTemplate: { name: 'order_update', language: 'en_GB', parameters: '5521\nMonday' } },
      person.input,
    );
    expect(result.output('Reply')[0].json).toMatchObject({ channel: 'whatsapp', via: 'template', providerMessageId: 'wamid.template-1' });
    expect(seen).toHaveLength(1);
    expect(seen[0].body).toMatchObject({
      to: person.digits,
      type: 'template',
      template: {
        name: 'order_update',
        language: { code: 'en_GB' },
        components: [{ type: 'body', parameters: [{ type: 'text', text: '5521' }, { type: 'text', text: 'Monday' }] }],
      },
    });
  });

  test('outside the window without a template: falls back to the Telegram chat of the same person', async () => {
    const person = await whatsappPerson(25, true);
    answers.set(`/bot${TG_TOKEN}/sendMessage`, () => ({ status: 200, body: { ok: true, result: { message_id: 77, chat: { id: person.chatId }, date: 1, text: 'x' } } }));
    const result = await runReply({ text: 'Answer without a template' }, person.input);
    const [item] = result.output('Reply');
    expect(item.json).toMatchObject({ channel: 'telegram', via: 'fallback', providerMessageId: `${person.chatId}:77` });
    expect(item.json.explanation).toMatch(/^Sent on telegram instead of whatsapp \(whatsapp: its 24-hour window closed/);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: `/bot${TG_TOKEN}/sendMessage`, body: { chat_id: person.chatId, text: 'Answer without a template' } });

    // Without fallback: a node error that says what to do.
    const closed = await runReply({ text: 'No fallback', fallback: false, replyKey: 'second' }, person.input);
    expect(closed.error('Reply')).toMatchObject({ message: expect.stringContaining('24-hour window closed'), description: expect.stringContaining('WhatsApp Template') });
  });

  test('without the credential of the channel: a clear error, nothing sent', async () => {
    const person = await whatsappPerson();
    const result = await runReply({ text: 'Hello' }, person.input, {}, { omnithreadStoreApi: allSet.omnithreadStoreApi });
    expect(result.error('Reply')?.message).toMatch(/whatsapp: no send settings \(credentials\)/);
    expect(seen).toHaveLength(0);
  });

  test('rate limited (429, Retry-After): a node error with the retry time; Continue On Fail gives an error item; the answer is on the timeline as failed', async () => {
    const person = await whatsappPerson();
    answers.set('/v21.0/pn1/messages', () => ({
      status: 429,
      headers: { 'retry-after': '30' },
      body: { error: { message: '(#130429) Rate limit hit', type: 'OAuthException', code: 130429, fbtrace_id: 'A1' } },
    }));
    const failed = await runReply({ text: 'Hello' }, person.input);
    const error = failed.error('Reply');
    expect(error?.message).toContain('rate limit');
    expect(error?.description).toContain('Retry after 30 seconds');
    expect(seen).toHaveLength(1);

    const continued = await runReply({ text: 'Hello' }, person.input, { onError: 'continueRegularOutput' });
    expect(continued.output('Reply')).toEqual([
      { json: { error: expect.stringContaining('retry after 30 s'), code: 'RATE_LIMITED', retryAfterSeconds: 30, delivery: 'not_sent' }, pairedItem: { item: 0 } },
    ]);
    expect(seen).toHaveLength(2); // a failed answer is retried by a re-run
    const outbound = (await ot.timeline(person.contactId, { kinds: ['message'] })).events.filter((e) => e.direction === 'outbound');
    expect(outbound).toHaveLength(1);
    expect(outbound[0].data).toMatchObject({ sendState: 'failed', send: { error: { code: 'RATE_LIMITED' } } });

    // Once the provider accepts, the same answer goes out, on the same timeline event.
    answers.set('/v21.0/pn1/messages', () => waSent('wamid.after-429'));
    const ok = await runReply({ text: 'Hello' }, person.input);
    expect(ok.output('Reply')[0].json).toMatchObject({ duplicate: false, providerMessageId: 'wamid.after-429', event: { id: outbound[0].id } });
  });

  test('describes itself as n8n expects: tool-usable, optional credentials, the channels that can send', () => {
    const { description } = new OmnithreadReply();
    expect(description.usableAsTool).toBe(true);
    expect(description.credentials?.map((c) => [c.name, c.required])).toEqual([
      ['omnithreadStoreApi', false],
      ['omnithreadWhatsAppApi', false],
      ['omnithreadMetaPageApi', false],
      ['omnithreadTelegramApi', false],
      ['omnithreadTwilioApi', false],
      ['omnithreadXApi', false],
      ['omnithreadSmtpApi', false],
    ]);
    const channel = description.properties.find((p) => p.name === 'channel')!;
    expect(channel.options!.map((o) => (o as { value: string }).value).sort()).toEqual(['bestOpen', 'email', 'instagram', 'messenger', 'same', 'sms', 'telegram', 'webchat', 'whatsapp', 'x']);
    const defaults = Object.fromEntries(description.properties.map((p) => [p.name, p.default]));
    expect(defaults).toMatchObject({ contactId: '={{ $json.contactId ?? $json.contact?.id }}', inReplyTo: '={{ $json.event?.id }}', channel: 'same', fallback: true, replyKey: 'reply' });
  });
});

// ------------------------------------------------------------------------------------------------
// Credentials
// ------------------------------------------------------------------------------------------------
const CREDENTIALS: [ICredentialType, string, ICredentialDataDecryptedObject, { method: string; url: string; headers?: object; auth?: object }][] = [
  [
    new OmnithreadWhatsAppApi(),
    'whatsapp',
    { accessToken: 'EAAG', phoneNumberId: '106540352242922', apiVersion: 'v21.0', apiBaseUrl: 'https://graph.facebook.com/' },
    { method: 'GET', url: 'https://graph.facebook.com/v21.0/106540352242922', headers: { Authorization: 'Bearer EAAG' } },
  ],
  [
    new OmnithreadMetaPageApi(),
    'messenger',
    { pageAccessToken: 'EAAP', apiVersion: 'v21.0', apiBaseUrl: 'https://graph.facebook.com' },
    { method: 'GET', url: 'https://graph.facebook.com/v21.0/me?access_token=EAAP&fields=id%2Cname' },
  ],
  [new OmnithreadTelegramApi(), 'telegram', { botToken: TG_TOKEN, apiBaseUrl: 'https://api.telegram.org' }, { method: 'GET', url: `https://api.telegram.org/bot${TG_TOKEN}/getMe` }],
  [
    new OmnithreadTwilioApi(),
    'sms',
    { accountSid: 'AC123', authToken: 'tw-secret', from: '', messagingServiceSid: '', statusCallback: '', apiBaseUrl: 'https://api.twilio.com' },
    { method: 'GET', url: 'https://api.twilio.com/2010-04-01/Accounts/AC123.json', auth: { username: 'AC123', password: 'tw-secret' } },
  ],
  [new OmnithreadXApi(), 'x', { userAccessToken: 'x-user-token', apiBaseUrl: 'https://api.x.com' }, { method: 'GET', url: 'https://api.x.com/2/users/me', headers: { Authorization: 'Bearer x-user-token' } }],
];

/** Resolves the credential's test request with `$credentials`, as n8n's credentials helper does. */
function resolvedTest(credential: ICredentialType, data: ICredentialDataDecryptedObject) {
  const workflow = buildWorkflow({ nodes: [node('Input', 'test.input')], connections: {} });
  const request = credential.test!.request;
  const resolve = (value: unknown) => workflow.expression.getParameterValue(value as never, null, 0, 0, 'Input', [], 'internal', { $credentials: data } as never);
  const resolved = resolve(request) as Record<string, any>;
  const url = new URL(`${resolved.baseURL ?? ''}${resolved.url}`);
  for (const [k, v] of Object.entries((resolved.qs ?? {}) as Record<string, string>)) url.searchParams.set(k, v);
  return { method: resolved.method ?? 'GET', url: url.toString(), headers: resolved.headers, auth: resolved.auth };
}

describe.each(CREDENTIALS.map((c) => [c[0].name, ...c] as const))('%s credential', (_name, credential, channel, data, expected) => {
  test("its fields are the channel's send settings; secrets are password fields", () => {
    const module = CHANNELS[channel];
    const schema = (module.sendConfigSchema as unknown as { shape: Record<string, unknown> }).shape;
    expect(credential.properties.map((p) => p.name).sort()).toEqual(Object.keys(schema).sort());
    expect(credential.properties.filter((p) => p.typeOptions?.password).map((p) => p.name)).toEqual(module.sendFields!.filter((f) => f.secret).map((f) => f.name));
    expect(credential.name).toMatch(/^omnithread[A-Za-z]+Api$/);
    // A plug for the messaging channels, an envelope for email (scripts/icons.js).
    const glyph = credential.name === 'omnithreadSmtpApi' ? 'email' : 'channel';
    expect(credential.icon).toEqual({ light: `file:${glyph}.svg`, dark: `file:${glyph}.dark.svg` });
    // The credential's data as n8n stores it is valid send settings.
    expect(module.sendConfigSchema!.safeParse(data).success).toBe(true);
  });

  test('its test request is the provider\'s cheap documented read', () => {
    const resolved = resolvedTest(credential, data);
    expect(resolved.method).toBe(expected.method);
    expect(resolved.url).toBe(expected.url);
    if (expected.headers) expect(resolved.headers).toEqual(expected.headers);
    if (expected.auth) expect(resolved.auth).toEqual(expected.auth);
  });
});
