/**
 * The Omnithread Trigger serving every channel in n8n's engine: providers' GET handshakes on the `setup`
 * webhook, signed deliveries on `default` (both on the one URL users paste in the provider's console),
 * Telegram's setWebhook / deleteWebhook on activation against a local Bot API server, and Twilio's signed
 * form posts answered with TwiML.
 */
import { TYPES, buildWorkflow, callHookMethod, callWebhook, cleanupAfterAll, node } from '../support/n8n-harness';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHANNELS, acquireStore, metaSignature, resolveSettings } from '../../shared';
import { countRows } from '../support/stores';
import { ProviderRequest, ProviderServer, startProvider } from '../support/provider-server';
import { twilioSignature, xSignature } from '../support/signatures';

cleanupAfterAll();

const WEBHOOK_ID = 'a0b1c2d3-0000-4000-8000-00000000c4a1';
const PRODUCTION_URL = `http://localhost:5678/webhook/${WEBHOOK_ID}/webhook`;
const fixture = (channel: string, name: string): Record<string, any> =>
  JSON.parse(readFileSync(join(__dirname, '..', 'channels', 'fixtures', channel, `${name}.json`), 'utf8'));
const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const storeRows = async () => countRows((await acquireStore(resolveSettings(undefined, 'n8n').store)).store);

function trigger(channel: string, parameters: Record<string, unknown> = {}) {
  return buildWorkflow({ nodes: [node('Trigger', TYPES.trigger, { channel, ...parameters } as never, { webhookId: WEBHOOK_ID })], connections: {} });
}

describe('webhooks: one URL for handshakes (GET setup) and deliveries (POST default)', () => {
  test('both webhooks are on the production URL users paste in the provider console', () => {
    const workflow = trigger('whatsapp');
    const description = workflow.nodeTypes.getByNameAndVersion(TYPES.trigger).description;
    expect(description.webhooks!.map((w) => [w.name, w.httpMethod, w.path])).toEqual([
      ['setup', 'GET', 'webhook'],
      ['default', 'POST', 'webhook'],
    ]);
    expect(description.webhooks![0].responseMode).toBe('onReceived');
  });

  test('every channel is offered, with its generated settings shown only for it', () => {
    const description = trigger('generic').nodeTypes.getByNameAndVersion(TYPES.trigger).description;
    const channel = description.properties.find((p) => p.name === 'channel')!;
    expect((channel.options as { value: string }[]).map((o) => o.value).sort()).toEqual(Object.keys(CHANNELS).sort());
    for (const module of Object.values(CHANNELS)) {
      for (const field of module.settingFields ?? []) {
        const property = description.properties.find((p) => p.name === field.name && (p.displayOptions?.show?.channel as string[]).includes(module.id));
        expect({ channel: module.id, field: field.name, found: !!property, password: !!property?.typeOptions?.password }).toEqual({ channel: module.id, field: field.name, found: true, password: !!field.secret });
      }
    }
  });
});

describe('WhatsApp', () => {
  const APP_SECRET = 'wa-app-secret';
  const VERIFY_TOKEN = 'wa-verify-token';
  const whatsapp = () => trigger('whatsapp', { appSecret: APP_SECRET, verifyToken: VERIFY_TOKEN });

  test('the GET verification handshake is answered exactly: 200 text/plain echo of hub.challenge', async () => {
    const { result, sent, items } = await callWebhook(whatsapp(), 'Trigger', {
      method: 'GET',
      body: '',
      query: { 'hub.mode': 'subscribe', 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': '1158201444' },
    });
    expect(result).toEqual({ noWebhookResponse: true });
    expect(sent).toEqual({ status: 200, contentType: 'text/plain; charset=utf-8', body: '1158201444' });
    expect(items).toHaveLength(0);
  });

  test('a handshake with the wrong verify token gets 403', async () => {
    const { result, sent } = await callWebhook(whatsapp(), 'Trigger', {
      method: 'GET',
      body: '',
      query: { 'hub.mode': 'subscribe', 'hub.verify_token': 'not-it', 'hub.challenge': '1158201444' },
    });
    expect(result).toEqual({ noWebhookResponse: true });
    expect(sent.status).toBe(403);
    expect(sent.body).not.toBe('1158201444');
  });

  test('a signed delivery starts the workflow with the message', async () => {
    const body = fixture('whatsapp', 'text');
    body.entry[0].changes[0].value.messages[0].id = `wamid.${hex(16)}`;
    const raw = JSON.stringify(body);
    const { result, sent, items } = await callWebhook(whatsapp(), 'Trigger', { body: raw, headers: { 'X-Hub-Signature-256': metaSignature(APP_SECRET, raw) } });
    expect(sent.status).toBeUndefined();
    expect(result.webhookResponse).toEqual({ received: 1, recorded: 1, duplicates: 0 });
    expect(items).toHaveLength(1);
    expect(items[0].json).toMatchObject({ channel: 'whatsapp', text: 'Hi, my parcel never arrived', message: { channel: 'whatsapp', from: { name: 'Maya Lindqvist' } } });
  });

  test('a bad signature gets 401 and stores nothing', async () => {
    const before = await storeRows();
    const body = fixture('whatsapp', 'text');
    body.entry[0].changes[0].value.messages[0].id = `wamid.${hex(16)}`;
    const raw = JSON.stringify(body);
    const { result, sent, items } = await callWebhook(whatsapp(), 'Trigger', { body: raw, headers: { 'X-Hub-Signature-256': metaSignature('wrong-secret', raw) } });
    expect(result).toEqual({ noWebhookResponse: true });
    expect(sent.status).toBe(401);
    expect(items).toHaveLength(0);
    expect(await storeRows()).toEqual(before);
  });
});

describe('X', () => {
  test('the CRC GET is answered with 200 JSON response_token = sha256=base64(HMAC-SHA256(consumer secret, crc_token))', async () => {
    const { result, sent } = await callWebhook(trigger('x', { consumerSecret: 'x-consumer-secret' }), 'Trigger', { method: 'GET', body: '', query: { crc_token: 'abc123' } });
    expect(result).toEqual({ noWebhookResponse: true });
    const expected = xSignature('x-consumer-secret', 'abc123');
    expect(sent).toEqual({ status: 200, contentType: 'application/json; charset=utf-8', body: { response_token: expected } });
  });
});

test.each([['generic'], ['telegram']])('a GET that is not a handshake gets 405 (%s)', async (channel) => {
  const { result, sent } = await callWebhook(trigger(channel, { secretToken: 'tg-secret', botId: '7000000001' }), 'Trigger', { method: 'GET', body: '' });
  expect(result).toEqual({ noWebhookResponse: true });
  expect(sent.status).toBe(405);
});

describe('Telegram', () => {
  const SECRET = 'tg-Secret_token-123';
  const BOT_TOKEN = '7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';
  const update = () => {
    const body = fixture('telegram', 'text');
    body.update_id = Math.floor(Math.random() * 1e9);
    body.message.message_id = Math.floor(Math.random() * 1e9);
    return body;
  };

  test('a delivery without the right secret token gets 403 and stores nothing', async () => {
    const before = await storeRows();
    const workflow = trigger('telegram', { secretToken: SECRET, botToken: BOT_TOKEN });
    for (const headers of [{}, { 'X-Telegram-Bot-Api-Secret-Token': 'wrong' }] as Record<string, string>[]) {
      const { result, sent, items } = await callWebhook(workflow, 'Trigger', { body: update(), headers });
      expect(result).toEqual({ noWebhookResponse: true });
      expect(sent.status).toBe(403);
      expect(items).toHaveLength(0);
    }
    expect(await storeRows()).toEqual(before);
  });

  test('a text update with the secret token starts the workflow', async () => {
    const { result, items } = await callWebhook(trigger('telegram', { secretToken: SECRET, botToken: BOT_TOKEN }), 'Trigger', {
      body: update(),
      headers: { 'X-Telegram-Bot-Api-Secret-Token': SECRET },
    });
    expect(result.webhookResponse).toEqual({ received: 1, recorded: 1, duplicates: 0 });
    expect(items.map((i) => i.json)).toEqual([expect.objectContaining({ channel: 'telegram', text: 'Hi, my parcel never arrived', message: expect.objectContaining({ channelAccount: '7000000001' }) })]);
  });

  describe('activation registers the webhook with the Bot API (a local server)', () => {
    let provider: ProviderServer;
    let baseUrl: string;
    let calls: ProviderRequest[] = [];
    let webhookUrl = '';
    let failWith: { status: number; body: unknown } | undefined;

    /** A Bot API stand-in that remembers the registered webhook URL. */
    beforeAll(async () => {
      provider = await startProvider(({ url, body }) => {
        if (failWith) return failWith;
        if (!url.startsWith(`/bot${BOT_TOKEN}/`)) return { status: 404, body: { ok: false, error_code: 404, description: 'Not Found' } };
        const method = url.slice(`/bot${BOT_TOKEN}/`.length);
        if (method === 'setWebhook') webhookUrl = body.url;
        if (method === 'deleteWebhook') webhookUrl = '';
        if (method === 'getWebhookInfo') return { status: 200, body: { ok: true, result: { url: webhookUrl, has_custom_certificate: false, pending_update_count: 0 } } };
        return { status: 200, body: { ok: true, result: true, description: 'Webhook was set' } };
      });
      ({ base: baseUrl, seen: calls } = provider);
    });
    afterAll(() => provider.close());
    beforeEach(() => {
      calls.length = 0;
      failWith = undefined;
    });

    function telegramWorkflow(parameters: Record<string, unknown> = {}) {
      return trigger('telegram', { secretToken: SECRET, botToken: BOT_TOKEN, apiBaseUrl: baseUrl, ...parameters });
    }

    test('checkExists -> create calls setWebhook with our URL and the secret token; then checkExists is true; delete calls deleteWebhook', async () => {
      const workflow = telegramWorkflow();
      expect(await callHookMethod(workflow, 'Trigger', 'checkExists')).toBe(false);
      expect(await callHookMethod(workflow, 'Trigger', 'create')).toBe(true);
      const set = calls.find((c) => c.url.endsWith('/setWebhook'));
      expect(set).toMatchObject({ method: 'POST', url: `/bot${BOT_TOKEN}/setWebhook`, body: { url: PRODUCTION_URL, secret_token: SECRET } });
      expect(await callHookMethod(workflow, 'Trigger', 'checkExists')).toBe(true);

      expect(await callHookMethod(workflow, 'Trigger', 'delete')).toBe(true);
      expect(calls.filter((c) => c.url.endsWith('/deleteWebhook'))).toEqual([expect.objectContaining({ method: 'POST', url: `/bot${BOT_TOKEN}/deleteWebhook` })]);
      expect(webhookUrl).toBe('');
    });

    test('a test run ("Listen for test event") registers the /webhook-test/ URL', async () => {
      await callHookMethod(telegramWorkflow(), 'Trigger', 'create', { isTest: true });
      expect(calls.find((c) => c.url.endsWith('/setWebhook'))?.body.url).toBe(`http://localhost:5678/webhook-test/${WEBHOOK_ID}/webhook`);
    });

    test("Telegram's refusal surfaces as a clear node error on activation", async () => {
      failWith = { status: 401, body: { ok: false, error_code: 401, description: 'Unauthorized' } };
      const error = await callHookMethod(telegramWorkflow(), 'Trigger', 'create').catch((e: Error) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).constructor.name).toBe('NodeApiError');
      expect((error as Error).message).toMatch(/^Telegram refused to register the webhook \(setWebhook\)/);
      expect((error as Error).message).not.toContain(BOT_TOKEN.split(':')[1]);

      failWith = { status: 400, body: { ok: false, error_code: 400, description: 'Bad Request: bad webhook: HTTPS url must be provided for webhook' } };
      const bad = await callHookMethod(telegramWorkflow(), 'Trigger', 'create').catch((e: Error) => e);
      expect((bad as Error).message).toContain('HTTPS url must be provided');
    });

    test('without a secret token, create refuses before calling Telegram (deliveries would all be refused)', async () => {
      const error = await callHookMethod(telegramWorkflow({ secretToken: '' }), 'Trigger', 'create').catch((e: Error) => e);
      expect((error as Error).constructor.name).toBe('NodeOperationError');
      expect((error as Error).message).toContain('secretToken');
      expect(calls).toHaveLength(0);
    });

    test('without a bot token (webhook registered by hand) and for other channels, nothing is called', async () => {
      const byHand = trigger('telegram', { secretToken: SECRET, botId: '7000000001' });
      for (const workflow of [byHand, trigger('whatsapp', { appSecret: 's', verifyToken: 'v' }), trigger('generic')]) {
        expect(await callHookMethod(workflow, 'Trigger', 'checkExists')).toBe(true);
        expect(await callHookMethod(workflow, 'Trigger', 'create')).toBe(true);
        expect(await callHookMethod(workflow, 'Trigger', 'delete')).toBe(true);
      }
      expect(calls).toHaveLength(0);
    });

    test('a failing deleteWebhook does not block deactivation', async () => {
      failWith = { status: 500, body: { ok: false } };
      expect(await callHookMethod(telegramWorkflow(), 'Trigger', 'delete')).toBe(false);
    });
  });
});

describe('Twilio', () => {
  const AUTH_TOKEN = 'twilio-auth-token-0123456789abcdef';
  const FORM = 'application/x-www-form-urlencoded';

  /** X-Twilio-Signature per Twilio's docs (test/support/signatures.ts). */
  const sign = (url: string, params: Record<string, string>): string => twilioSignature(AUTH_TOKEN, url, params);

  test('a correctly signed SMS (signed over the production webhook URL) starts the workflow; the answer is TwiML <Response/>', async () => {
    const sid = `SM${hex(16)}`;
    const params: Record<string, string> = { ...fixture('twilio', 'inbound-sms'), SmsMessageSid: sid, SmsSid: sid, MessageSid: sid };
    const { result, sent, items } = await callWebhook(trigger('sms', { authToken: AUTH_TOKEN }), 'Trigger', {
      body: new URLSearchParams(params).toString(),
      contentType: FORM,
      headers: { 'X-Twilio-Signature': sign(PRODUCTION_URL, params) },
    });
    expect(sent.status).toBe(200);
    expect(sent.contentType).toBe('text/xml; charset=utf-8');
    expect(String(sent.body)).toMatch(/<Response\/>$/);
    expect(result.noWebhookResponse).toBe(true);
    expect(items.map((i) => i.json)).toEqual([expect.objectContaining({ channel: 'sms', text: "Hi, my parcel never arrived & I'm <annoyed>" })]);
  });

  test('the query string Twilio called with is part of the signed URL', async () => {
    const sid = `SM${hex(16)}`;
    const params: Record<string, string> = { ...fixture('twilio', 'inbound-sms'), SmsMessageSid: sid, SmsSid: sid, MessageSid: sid };
    const { sent, items } = await callWebhook(trigger('sms', { authToken: AUTH_TOKEN }), 'Trigger', {
      body: new URLSearchParams(params).toString(),
      contentType: FORM,
      query: { store: 'eu' },
      headers: { 'X-Twilio-Signature': sign(`${PRODUCTION_URL}?store=eu`, params) },
    });
    expect(sent.status).toBe(200);
    expect(items).toHaveLength(1);
  });

  test('a signature over another URL gets 403 and stores nothing', async () => {
    const before = await storeRows();
    const params: Record<string, string> = { ...fixture('twilio', 'inbound-sms'), MessageSid: `SM${hex(16)}` };
    const { sent, items } = await callWebhook(trigger('sms', { authToken: AUTH_TOKEN }), 'Trigger', {
      body: new URLSearchParams(params).toString(),
      contentType: FORM,
      headers: { 'X-Twilio-Signature': sign('https://elsewhere.example.com/webhook', params) },
    });
    expect(sent.status).toBe(403);
    expect(items).toHaveLength(0);
    expect(await storeRows()).toEqual(before);
  });

  test('a signed incoming call starts the workflow and is answered with the greeting TwiML', async () => {
    const params: Record<string, string> = { ...fixture('twilio', 'incoming-call'), CallSid: `CA${hex(16)}` };
    const { sent, items } = await callWebhook(trigger('voice', { authToken: AUTH_TOKEN, greeting: 'Hello from Omnithread', transcribe: false }), 'Trigger', {
      body: new URLSearchParams(params).toString(),
      contentType: FORM,
      headers: { 'X-Twilio-Signature': sign(PRODUCTION_URL, params) },
    });
    expect(sent.status).toBe(200);
    expect(sent.contentType).toBe('text/xml; charset=utf-8');
    expect(String(sent.body)).toContain('<Say>Hello from Omnithread</Say>');
    expect(String(sent.body)).toContain('<Record');
    expect(items.map((i) => i.json)).toEqual([expect.objectContaining({ channel: 'voice', message: expect.objectContaining({ kind: 'call' }) })]);
  });
});
