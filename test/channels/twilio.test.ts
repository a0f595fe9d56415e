/**
 * Twilio SMS and voice channels.
 *
 * Sources (Twilio docs):
 * - Signatures: https://www.twilio.com/docs/usage/webhooks/webhooks-security (URL + POST params sorted by
 *   name, concatenated, HMAC-SHA1 with the Auth Token, base64; the URL must be the one configured in Twilio;
 *   helpers try it with and without the port). Worked example (token 12345,
 *   https://mycompany.com/myapp.php?foo=1&bar=2, CallSid/Caller/Digits/From/To -> RSOYDt4T1cUTdK1PDd93/VVr8B8=)
 *   from Twilio's request-validation docs (twilio-php "Validate Incoming Requests").
 * - Incoming message parameters: https://www.twilio.com/docs/messaging/guides/webhook-request
 * - Status callbacks (MessageStatus, ErrorCode): https://www.twilio.com/docs/usage/webhooks/sms-webhooks
 * - Voice webhooks and call status callbacks (CallStatus, CallDuration, Timestamp, CallbackSource):
 *   https://www.twilio.com/docs/usage/webhooks/voice-webhooks
 * - <Record transcribe transcribeCallback> and the transcription callback (TranscriptionSid, TranscriptionText,
 *   TranscriptionStatus, RecordingSid, RecordingUrl): https://www.twilio.com/docs/voice/twiml/record
 * - Sending: https://www.twilio.com/docs/messaging/api/message-resource ; errors (code, message, more_info,
 *   status): https://www.twilio.com/docs/usage/twilios-response ; 21610: https://www.twilio.com/docs/api/errors/21610
 */
import { readFileSync } from 'node:fs';
import { ProviderAnswer, ProviderRequest, ProviderServer, startProvider } from '../support/provider-server';
import { join } from 'node:path';
import axios from 'axios';
import fc from 'fast-check';
import { OmnithreadError, WebhookRequest, channelConfig, handleWebhook, openStore, createOmnithread, Store } from '../../shared';
import { MessageInputSchema, StatusUpdateInputSchema } from '../../shared/model';
import { EMPTY_TWIML, greetingTwiml, twilioSmsChannel, twilioVoiceChannel, urlVariants } from '../../shared/channels/twilio';
import { countRows, createTestStoreConfig, describeStores, uniqueWorkspace } from '../support/stores';
import { twilioSignature as expectedSignature } from '../support/signatures';

const TOKEN = '12345-twilio-auth-token';
const ACCOUNT = 'AC0123456789abcdef0123456789abcdef';
const SMS_URL = 'https://omni.example.com/webhook/sms';
const VOICE_URL = 'https://omni.example.com/webhook/voice';
const smsConfig = channelConfig(twilioSmsChannel, { authToken: TOKEN });
const voiceConfig = channelConfig(twilioVoiceChannel, { authToken: TOKEN, publicUrl: VOICE_URL });

type Form = Record<string, string>;
const fixture = (name: string): Form => JSON.parse(readFileSync(join(__dirname, 'fixtures', 'twilio', `${name}.json`), 'utf8'));

function request(params: Form | string, url = SMS_URL, options: { sign?: boolean; signUrl?: string; token?: string; headers?: Record<string, string> } = {}): WebhookRequest {
  const raw = typeof params === 'string' ? params : new URLSearchParams(params).toString();
  const signed = typeof params === 'string' ? Object.fromEntries(new URLSearchParams(params)) : params;
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', ...(options.headers ?? {}) };
  if (options.sign !== false) headers['x-twilio-signature'] = expectedSignature(options.token ?? TOKEN, options.signUrl ?? url, signed);
  const query = url.includes('?') ? Object.fromEntries(new URLSearchParams(url.split('?')[1])) : {};
  return { method: 'POST', headers, query, rawBody: Buffer.from(raw), url };
}

function errorOf(fn: () => unknown): OmnithreadError | undefined {
  try {
    fn();
  } catch (e) {
    return e as OmnithreadError;
  }
  return undefined;
}

/** A well-formedness check for the TwiML we produce: one root, balanced tags, only known entities. */
function wellFormed(xml: string): boolean {
  if (!xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>')) return false;
  const body = xml.slice('<?xml version="1.0" encoding="UTF-8"?>'.length);
  const stack: string[] = [];
  let roots = 0;
  const token = /<\/?([A-Za-z]+)((?:\s+[A-Za-z]+="[^"<&]*(?:&(?:amp|lt|gt|quot|apos);[^"<&]*)*")*)\s*(\/?)>|([^<]+)/gy;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = token.exec(body))) {
    consumed = token.lastIndex;
    if (m[4] !== undefined) {
      if (!stack.length || /&(?!(?:amp|lt|gt|quot|apos);)/.test(m[4]) || m[4].includes('>')) return false;
      continue;
    }
    const closing = m[0].startsWith('</');
    if (closing) {
      if (stack.pop() !== m[1]) return false;
    } else {
      if (!stack.length) roots++;
      if (m[3] !== '/') stack.push(m[1]);
    }
  }
  return consumed === body.length && stack.length === 0 && roots === 1;
}

describe('Twilio signature', () => {
  test("Twilio's documented example gives the documented signature (independent implementation and module)", () => {
    const params = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675309', Digits: '1234', From: '+14158675309', To: '+18005551212' };
    const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
    expect(expectedSignature('12345', url, params)).toBe('RSOYDt4T1cUTdK1PDd93/VVr8B8=');
    const req: WebhookRequest = {
      method: 'POST',
      headers: { 'x-twilio-signature': 'RSOYDt4T1cUTdK1PDd93/VVr8B8=' },
      query: { foo: '1', bar: '2' },
      rawBody: Buffer.from(new URLSearchParams(params).toString()),
      url,
    };
    expect(twilioVoiceChannel.verify(req, channelConfig(twilioVoiceChannel, { authToken: '12345' }))).toEqual({ ok: true });
    expect(twilioVoiceChannel.verify({ ...req, url: 'https://mycompany.com/myapp.php?foo=1&bar=3' }, channelConfig(twilioVoiceChannel, { authToken: '12345' })).ok).toBe(false);
  });

  test('parameters are sorted by name; the body order does not matter; values are compared after form decoding', () => {
    const params = fixture('inbound-sms');
    const shuffled = Object.entries(params).reverse();
    const req = request(new URLSearchParams(shuffled).toString());
    expect(twilioSmsChannel.verify(req, smsConfig)).toEqual({ ok: true });
    // '+' in a form body is a space; Twilio signs the decoded value.
    const spaced = request('AccountSid=' + ACCOUNT + '&Body=hello+world&From=%2B447911123456');
    expect(req.headers['x-twilio-signature']).not.toBe(spaced.headers['x-twilio-signature']);
    expect(twilioSmsChannel.verify(spaced, smsConfig)).toEqual({ ok: true });
  });

  test('publicUrl overrides the internal URL a proxy forwarded to, keeping the query string', () => {
    const params = fixture('inbound-sms');
    const internal = 'http://10.0.0.7:5678/webhook/sms?tenant=eu';
    const config = channelConfig(twilioSmsChannel, { authToken: TOKEN, publicUrl: SMS_URL });
    const req = request(params, internal, { signUrl: `${SMS_URL}?tenant=eu` });
    expect(twilioSmsChannel.verify(req, config)).toEqual({ ok: true });
    // Without publicUrl the internal URL is used, and the check fails, naming the URL it used.
    const refused = twilioSmsChannel.verify(req, smsConfig);
    expect(refused).toMatchObject({ ok: false, status: 403 });
    expect(!refused.ok && refused.reason).toContain('http://10.0.0.7:5678/webhook/sms');
    // The query string is rebuilt from request.query when the engine gives no URL.
    expect(twilioSmsChannel.verify({ ...req, url: undefined }, config)).toEqual({ ok: true });
  });

  test('ports: the URL is also tried without its port and with the standard port, as the docs describe', () => {
    expect(urlVariants('https://a.example.com:443/x?y=1')).toEqual(['https://a.example.com:443/x?y=1', 'https://a.example.com/x?y=1']);
    expect(urlVariants('https://a.example.com/x')).toEqual(['https://a.example.com/x', 'https://a.example.com:443/x']);
    expect(urlVariants('http://h:8080/x')).toEqual(['http://h:8080/x', 'http://h/x', 'http://h:80/x']);
    const params = fixture('inbound-sms');
    expect(twilioSmsChannel.verify(request(params, 'https://omni.example.com:443/webhook/sms', { signUrl: SMS_URL }), smsConfig)).toEqual({ ok: true });
    expect(twilioSmsChannel.verify(request(params, SMS_URL, { signUrl: 'https://omni.example.com:443/webhook/sms' }), smsConfig)).toEqual({ ok: true });
  });

  test('missing, wrong, or uncheckable signatures are refused with 403 and a reason', () => {
    const params = fixture('inbound-sms');
    expect(twilioSmsChannel.verify(request(params, SMS_URL, { sign: false }), smsConfig)).toEqual({ ok: false, status: 403, reason: 'missing X-Twilio-Signature header' });
    expect(twilioSmsChannel.verify(request(params, SMS_URL, { token: 'other' }), smsConfig)).toMatchObject({ ok: false, status: 403 });
    const tampered = { ...request(params), rawBody: Buffer.from(new URLSearchParams({ ...params, Body: 'changed' }).toString()) };
    expect(twilioSmsChannel.verify(tampered, smsConfig).ok).toBe(false);
    const noToken = twilioSmsChannel.verify(request(params), channelConfig(twilioSmsChannel, {}));
    expect(noToken).toMatchObject({ ok: false, status: 403 });
    expect(!noToken.ok && noToken.reason).toContain('no Auth Token');
    expect(twilioSmsChannel.verify({ ...request(params), url: undefined }, smsConfig)).toMatchObject({ ok: false, reason: expect.stringContaining('set publicUrl') });
  });
});

describe('Twilio parsing (fixtures)', () => {
  test('inbound SMS -> a message on the channel-trusted phone, replyTo { to, from }', () => {
    const params = fixture('inbound-sms');
    expect(twilioSmsChannel.parse(request(params), smsConfig)).toEqual([
      {
        type: 'message',
        message: {
          channel: 'sms',
          channelAccount: '+447700900123',
          providerMessageId: 'SM11111111111111111111111111111111',
          kind: 'message',
          threadKey: '+447911123456',
          from: { handles: [{ kind: 'phone', value: '+447911123456', trust: 'channel' }] },
          text: "Hi, my parcel never arrived & I'm <annoyed>",
          attachments: [],
          replyTo: { to: '+447911123456', from: '+447700900123' },
          metadata: { accountSid: ACCOUNT, messagingServiceSid: 'MG0123456789abcdef0123456789abcdef', numSegments: '1', fromLocation: { city: 'LONDON', country: 'GB' } },
          raw: params,
        },
      },
    ]);
  });

  test('MMS with two media -> two attachments with their content types', () => {
    const params = fixture('inbound-mms');
    const [item] = twilioSmsChannel.parse(request(params), smsConfig);
    expect(item).toMatchObject({
      type: 'message',
      message: {
        providerMessageId: 'MM22222222222222222222222222222222',
        text: 'Photos of the box',
        attachments: [
          { url: params.MediaUrl0, contentType: 'image/jpeg' },
          { url: params.MediaUrl1, contentType: 'image/png' },
        ],
      },
    });
  });

  test('status callbacks: delivered, and undelivered -> failed with the error code', () => {
    expect(twilioSmsChannel.parse(request(fixture('status-delivered')), smsConfig)).toEqual([
      { type: 'status', status: { channel: 'sms', channelAccount: '+447700900123', providerMessageId: 'SM33333333333333333333333333333333', status: 'delivered', details: {} } },
    ]);
    expect(twilioSmsChannel.parse(request(fixture('status-undelivered')), smsConfig)).toEqual([
      {
        type: 'status',
        status: {
          channel: 'sms',
          channelAccount: '+447700900123',
          providerMessageId: 'SM33333333333333333333333333333333',
          status: 'failed',
          details: { errorCode: '30003', providerStatus: 'undelivered' },
        },
      },
    ]);
    // A status Omnithread does not record (receiving) is acknowledged with no item.
    expect(twilioSmsChannel.parse(request({ ...fixture('status-delivered'), MessageStatus: 'partially_delivered' }), smsConfig)).toEqual([]);
  });

  test('incoming call -> a call on the caller phone; completed status with duration; transcription -> a message', () => {
    const call = fixture('incoming-call');
    expect(twilioVoiceChannel.parse(request(call, VOICE_URL), voiceConfig)).toEqual([
      {
        type: 'message',
        message: {
          channel: 'voice',
          channelAccount: '+447700900123',
          providerMessageId: 'CA44444444444444444444444444444444',
          kind: 'call',
          threadKey: '+447911123456',
          from: { name: 'Maya Lindqvist', handles: [{ kind: 'phone', value: '+447911123456', trust: 'channel' }] },
          text: 'Incoming call from Maya Lindqvist',
          attachments: [],
          replyTo: { to: '+447911123456', from: '+447700900123' },
          metadata: { accountSid: ACCOUNT, callSid: 'CA44444444444444444444444444444444', direction: 'inbound', callStatus: 'ringing', fromLocation: { city: 'LONDON', country: 'GB' } },
          raw: call,
        },
      },
    ]);
    expect(twilioVoiceChannel.parse(request(fixture('call-completed'), VOICE_URL), voiceConfig)).toEqual([
      {
        type: 'status',
        status: {
          channel: 'voice',
          channelAccount: '+447700900123',
          providerMessageId: 'CA44444444444444444444444444444444',
          status: 'completed',
          at: Date.parse('2026-11-24T10:05:00Z'),
          details: { duration: 47, direction: 'inbound' },
        },
      },
    ]);
    const transcription = fixture('transcription');
    expect(twilioVoiceChannel.parse(request(transcription, VOICE_URL), voiceConfig)).toEqual([
      {
        type: 'message',
        message: {
          channel: 'voice',
          channelAccount: '+447700900123',
          providerMessageId: 'TR55555555555555555555555555555555',
          kind: 'message',
          threadKey: '+447911123456',
          from: { handles: [{ kind: 'phone', value: '+447911123456', trust: 'channel' }] },
          text: "Hi, it's Maya, the parcel still hasn't come, please call me back.",
          attachments: [{ url: transcription.RecordingUrl, name: 'recording', contentType: 'audio/x-wav' }],
          replyTo: { to: '+447911123456', from: '+447700900123' },
          metadata: {
            accountSid: ACCOUNT,
            callSid: 'CA44444444444444444444444444444444',
            recordingSid: 'RE66666666666666666666666666666666',
            recordingUrl: transcription.RecordingUrl,
            transcriptionStatus: 'completed',
          },
          raw: transcription,
        },
      },
    ]);
    // The <Record> action (RecordingUrl, no transcription): acknowledged, nothing to record.
    expect(twilioVoiceChannel.parse(request({ ...fixture('call-completed'), RecordingUrl: 'https://api.twilio.com/r', RecordingSid: 'RE66666666666666666666666666666666' }, VOICE_URL), voiceConfig)).toEqual([]);
  });

  test("withheld and non-phone callers are not phone handles; a withheld caller's thread is the call itself", () => {
    const incoming = fixture('incoming-call');
    const [anon] = twilioVoiceChannel.parse(request({ ...incoming, From: '+266696687' }, VOICE_URL), voiceConfig);
    expect(anon).toMatchObject({ message: { from: { handles: [{ kind: 'external_id', scope: 'twilio', value: 'anonymous' }] } } });
    // No number to thread by: the call's sid keeps the call and its transcription on one contact.
    expect(anon.type === 'message' && anon.message.threadKey).toBe(`call:${incoming.CallSid}`);
    const [client] = twilioVoiceChannel.parse(request({ ...fixture('incoming-call'), From: 'client:agent-7' }, VOICE_URL), voiceConfig);
    expect(client).toMatchObject({ message: { from: { handles: [{ kind: 'external_id', value: 'client:agent-7' }] } } });
    const [wa] = twilioSmsChannel.parse(request({ ...fixture('inbound-sms'), From: 'whatsapp:+447911123456' }), smsConfig);
    expect(wa).toMatchObject({ message: { channel: 'sms', from: { handles: [{ kind: 'phone', value: '+447911123456' }] }, replyTo: { to: 'whatsapp:+447911123456' } } });
  });

  test.each([
    ['', '(body)', 'empty'],
    ['{"MessageSid":"SM1"}', '(body)', 'JSON'],
    ['SmsStatus=received&AccountSid=' + ACCOUNT + '&From=%2B1&To=%2B2', 'MessageSid', 'MessageSid is missing'],
    ['MessageSid=SM1&SmsStatus=received', 'MessageSid', 'not a Twilio SID'],
    ['MessageSid=SM11111111111111111111111111111111&AccountSid=' + ACCOUNT + '&SmsStatus=received&To=%2B2', 'From', 'From is missing'],
    ['MessageSid=SM11111111111111111111111111111111&AccountSid=' + ACCOUNT + '&From=%2B1&To=%2B2', 'MessageStatus', 'missing'],
    ['MessageSid=SM11111111111111111111111111111111&AccountSid=' + ACCOUNT + '&SmsStatus=received&From=%2B1&To=%2B2&NumMedia=x', 'NumMedia', 'number'],
    ['MessageSid=SM11111111111111111111111111111111&AccountSid=' + ACCOUNT + '&SmsStatus=received&From=%2B1&To=%2B2&NumMedia=1', 'MediaUrl0', 'missing'],
  ])('malformed SMS body %j is refused naming %s', (raw, field, words) => {
    const error = errorOf(() => twilioSmsChannel.parse(request(raw), smsConfig));
    expect(error).toBeInstanceOf(OmnithreadError);
    expect(error?.code).toBe('INVALID_INPUT');
    expect(error?.field).toBe(field);
    expect(error?.message).toContain(words);
  });

  test('a non-form content type is refused; malformed voice bodies name the field', () => {
    const json = request('a=b', SMS_URL, { headers: { 'content-type': 'application/json' } });
    expect(errorOf(() => twilioSmsChannel.parse(json, smsConfig))).toMatchObject({ code: 'INVALID_INPUT', field: '(body)', message: expect.stringContaining('application/json') });
    expect(errorOf(() => twilioVoiceChannel.parse(request({ AccountSid: ACCOUNT, CallStatus: 'ringing' }, VOICE_URL), voiceConfig))).toMatchObject({ field: 'CallSid' });
    expect(errorOf(() => twilioVoiceChannel.parse(request({ ...fixture('call-completed'), CallDuration: 'long' }, VOICE_URL), voiceConfig))).toMatchObject({ field: 'CallDuration' });
    expect(errorOf(() => twilioVoiceChannel.parse(request({ ...fixture('incoming-call'), CallStatus: '' }, VOICE_URL), voiceConfig))).toMatchObject({ field: 'CallStatus' });
  });
});

describe('TwiML answers', () => {
  test('the greeting is escaped and well-formed, with a transcribed recording or a dial', () => {
    const config = channelConfig(twilioVoiceChannel, { authToken: TOKEN, publicUrl: 'https://omni.example.com/webhook/voice?a=1&b=2', greeting: 'Hi <there> & "welcome" to Tom\'s \u0007shop' });
    const xml = greetingTwiml(config);
    expect(xml).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Hi &lt;there&gt; &amp; &quot;welcome&quot; to Tom&apos;s shop</Say>' +
        '<Record maxLength="120" playBeep="true" transcribe="true" transcribeCallback="https://omni.example.com/webhook/voice?a=1&amp;b=2"/></Response>',
    );
    expect(wellFormed(xml)).toBe(true);
    const dial = greetingTwiml(channelConfig(twilioVoiceChannel, { authToken: TOKEN, dialNumber: '+447700900999', greeting: 'Connecting you' }));
    expect(dial).toBe('<?xml version="1.0" encoding="UTF-8"?><Response><Say>Connecting you</Say><Dial>+447700900999</Dial></Response>');
    expect(greetingTwiml(channelConfig(twilioVoiceChannel, { record: 'false', greeting: 'Bye' }))).toBe('<?xml version="1.0" encoding="UTF-8"?><Response><Say>Bye</Say></Response>');
    expect(wellFormed(EMPTY_TWIML)).toBe(true);
    expect(wellFormed('<?xml version="1.0" encoding="UTF-8"?><Response><Say>a & b</Say></Response>')).toBe(false); // the checker checks
  });

  test('property: any greeting yields well-formed TwiML', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ maxLength: 40 }), (greeting, dial) => {
        const xml = greetingTwiml(channelConfig(twilioVoiceChannel, { greeting, dialNumber: dial }));
        return wellFormed(xml);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('fast-check: random and mutated bodies through verify + parse', () => {
  const fixtures = ['inbound-sms', 'inbound-mms', 'status-delivered', 'status-undelivered', 'incoming-call', 'call-completed', 'transcription'].map(fixture);
  const keys = [...new Set(fixtures.flatMap((f) => Object.keys(f)))];
  const channels = [
    [twilioSmsChannel, smsConfig],
    [twilioVoiceChannel, voiceConfig],
  ] as const;

  function check(req: WebhookRequest): void {
    for (const [channel, config] of channels) {
      const verification = channel.verify(req, config as never);
      expect(typeof verification.ok).toBe('boolean');
      let items;
      try {
        items = channel.parse(req, config as never);
      } catch (e) {
        expect(e).toBeInstanceOf(OmnithreadError);
        expect((e as OmnithreadError).code).toBe('INVALID_INPUT');
        continue;
      }
      for (const item of items) {
        const schema = item.type === 'message' ? MessageInputSchema : StatusUpdateInputSchema;
        expect(schema.safeParse(item.type === 'message' ? item.message : item.status).success).toBe(true);
      }
    }
  }

  const mutated = fc
    .tuple(
      fc.constantFrom(...fixtures),
      fc.array(fc.tuple(fc.constantFrom(...keys), fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('', '0', '2', '-1', 'received', 'ringing', 'completed', 'undelivered', 'inbound', 'SMxx', 'anonymous', 'whatsapp:+1', ACCOUNT))), { maxLength: 5 }),
      fc.array(fc.constantFrom(...keys), { maxLength: 3 }),
    )
    .map(([base, set, remove]) => {
      const form: Form = { ...base };
      for (const [k, v] of set) form[k] = v;
      for (const k of remove) delete form[k];
      return form;
    });

  test('mutated fixtures (signed, so verify passes) -> INVALID_INPUT or valid items', () => {
    fc.assert(
      fc.property(mutated, (form) => {
        const req = request(form);
        expect(twilioSmsChannel.verify(req, smsConfig)).toEqual({ ok: true });
        check(req);
      }),
      { numRuns: 3000 },
    );
  });

  test('random bytes and random forms -> INVALID_INPUT or valid items, never a crash', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
          fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 30 })).map((d) => Buffer.from(new URLSearchParams(d).toString())),
        ),
        fc.option(fc.constantFrom('application/x-www-form-urlencoded', 'application/json', 'text/plain', 'application/x-www-form-urlencoded; charset=utf-8'), { nil: undefined }),
        (raw, type) => {
          check({ method: 'POST', headers: { ...(type ? { 'content-type': type } : {}), 'x-twilio-signature': 'abc' }, query: {}, rawBody: raw, url: SMS_URL });
        },
      ),
      { numRuns: 3000 },
    );
  });

  test('hundreds through handleWebhook on SQLite: refusals write nothing', async () => {
    const created = await createTestStoreConfig('sqlite');
    const store: Store = await openStore(created.config);
    try {
      const ot = createOmnithread({ store, workspace: uniqueWorkspace() });
      const tally: Record<number, number> = {};
      await fc.assert(
        fc.asyncProperty(mutated, fc.boolean(), fc.boolean(), async (form, sign, voice) => {
          const req = request(form, voice ? VOICE_URL : SMS_URL, { sign });
          const before = await countRows(store);
          const outcome = voice ? await handleWebhook(ot, twilioVoiceChannel, voiceConfig, req) : await handleWebhook(ot, twilioSmsChannel, smsConfig, req);
          tally[outcome.reply.status] = (tally[outcome.reply.status] ?? 0) + 1;
          if (!sign) expect(outcome.reply.status).toBe(403);
          if (outcome.reply.status !== 200) {
            expect([400, 403]).toContain(outcome.reply.status);
            expect(await countRows(store)).toEqual(before);
          } else {
            expect(outcome.reply.type).toBe('xml');
          }
        }),
        { numRuns: 300 },
      );
      // Every path was taken: accepted, malformed and forged deliveries.
      expect(Object.keys(tally).sort()).toEqual(['200', '400', '403']);
    } finally {
      await store.close();
      await created.cleanup();
    }
  });
});

describeStores('Twilio webhooks', (ctx) => {
  test('an SMS, then a call from the same number: one person, the call as kind call, its status and transcription on it', async () => {
    const ot = ctx().omnithread();
    const sms = await handleWebhook(ot, twilioSmsChannel, smsConfig, request(fixture('inbound-sms')));
    expect(sms.reply).toEqual({ status: 200, body: EMPTY_TWIML, type: 'xml' });
    const contact = sms.recorded[0].contact;
    expect(contact.identities).toEqual([expect.objectContaining({ kind: 'phone', value: '+447911123456', trust: 'channel' })]);

    const call = await handleWebhook(ot, twilioVoiceChannel, voiceConfig, request(fixture('incoming-call'), VOICE_URL));
    expect(call.reply.type).toBe('xml');
    expect(call.reply.body).toBe(greetingTwiml(voiceConfig));
    expect(call.reply.body).toContain(`transcribeCallback="${VOICE_URL}"`);
    expect(call.recorded[0].contact.id).toBe(contact.id);
    expect(call.recorded[0].event).toMatchObject({ kind: 'call', channel: 'voice', providerMessageId: 'CA44444444444444444444444444444444' });
    expect(call.recorded[0].conversation.id).toBe(sms.recorded[0].conversation.id);

    const completed = await handleWebhook(ot, twilioVoiceChannel, voiceConfig, request(fixture('call-completed'), VOICE_URL));
    expect(completed.statuses).toEqual({ recorded: 1, duplicates: 0, unknown: 0 });
    expect(completed.reply).toEqual({ status: 200, body: EMPTY_TWIML, type: 'xml' });
    const transcription = await handleWebhook(ot, twilioVoiceChannel, voiceConfig, request(fixture('transcription'), VOICE_URL));
    expect(transcription.recorded[0].contact.id).toBe(contact.id);

    const timeline = await ot.timeline(contact.id);
    const events = (timeline as unknown as { events: { kind: string; text: string; data: Record<string, unknown>; id: string; providerMessageId: string | null }[] }).events;
    const callEvent = events.find((e) => e.kind === 'call');
    const status = events.find((e) => e.kind === 'status');
    expect(status?.data).toMatchObject({ status: 'completed', of: callEvent?.id, details: { duration: 47 } });
    expect(events.find((e) => e.providerMessageId === 'TR55555555555555555555555555555555')?.text).toContain('please call me back');

    // Redelivery of the call: recognised, and answered with the same TwiML.
    const again = await handleWebhook(ot, twilioVoiceChannel, voiceConfig, request(fixture('incoming-call'), VOICE_URL));
    expect(again.recorded).toEqual([]);
    expect(again.duplicates).toHaveLength(1);
    expect(again.reply.body).toBe(greetingTwiml(voiceConfig));
  });

  test('a redelivered SMS is recognised; a status on our outbound SMS lands on it', async () => {
    const ot = ctx().omnithread();
    const first = await handleWebhook(ot, twilioSmsChannel, smsConfig, request(fixture('inbound-sms')));
    const again = await handleWebhook(ot, twilioSmsChannel, smsConfig, request(fixture('inbound-sms')));
    expect(again.recorded).toEqual([]);
    expect(again.duplicates[0].event?.id).toBe(first.recorded[0].event?.id);
    await ot.recordOutbound(first.recorded[0].contact.id, { channel: 'sms', providerMessageId: 'SM33333333333333333333333333333333', text: 'On its way' });
    const failed = await handleWebhook(ot, twilioSmsChannel, smsConfig, request(fixture('status-undelivered')));
    expect(failed.statuses).toEqual({ recorded: 1, duplicates: 0, unknown: 0 });
    const repeated = await handleWebhook(ot, twilioSmsChannel, smsConfig, request(fixture('status-undelivered')));
    expect(repeated.statuses).toEqual({ recorded: 0, duplicates: 1, unknown: 0 });
  });

  test('a bad signature is refused with 403 and a malformed body with 400 naming the problem; nothing is stored', async () => {
    const ot = ctx().omnithread();
    const before = await countRows(ctx().store);
    const forged = await handleWebhook(ot, twilioSmsChannel, smsConfig, request(fixture('inbound-sms'), SMS_URL, { token: 'guess' }));
    expect(forged.reply.status).toBe(403);
    expect(forged.recorded).toEqual([]);
    const malformed = await handleWebhook(ot, twilioSmsChannel, smsConfig, request({ ...fixture('inbound-mms'), NumMedia: '3' }));
    expect(malformed.reply).toEqual({ status: 400, body: { error: 'Invalid Twilio webhook: MediaUrl2 is missing', field: 'MediaUrl2' } });
    const empty = await handleWebhook(ot, twilioVoiceChannel, voiceConfig, request('', VOICE_URL));
    expect(empty.reply.status).toBe(400);
    expect((empty.reply.body as { error: string }).error).toContain('empty');
    expect(await countRows(ctx().store)).toEqual(before);
  });
});

describe('sending an SMS', () => {
  let base: string;
  // Form bodies are not JSON: `body` is the raw text.
  let seen: ProviderRequest[] = [];
  let answer: ProviderAnswer = { status: 201, body: {} };

  let provider: ProviderServer;
  beforeAll(async () => {
    provider = await startProvider(() => answer);
    ({ base, seen } = provider);
  });
  afterAll(() => provider.close());
  beforeEach(() => (seen.length = 0));

  const sendConfig = () => ({ accountSid: ACCOUNT, authToken: 'secret-token', apiBaseUrl: base, statusCallback: SMS_URL });
  const send = (req: Parameters<NonNullable<typeof twilioSmsChannel.send>>[0], config: Record<string, unknown> = sendConfig()) =>
    twilioSmsChannel.send!(req, config, axios.create());

  test('POSTs the form to Messages.json with Basic auth; the sid is the provider message id', async () => {
    answer = { status: 201, body: { sid: 'SM77777777777777777777777777777777', status: 'queued' } };
    const result = await send({ to: { to: '+447911123456', from: '+447700900123' }, text: 'Your parcel ships today', media: { url: 'https://cdn.example.com/label.pdf', type: 'document' } });
    expect(result).toEqual({ providerMessageId: 'SM77777777777777777777777777777777', response: { sid: 'SM77777777777777777777777777777777', status: 'queued' } });
    expect(seen).toHaveLength(1);
    expect(seen[0].method).toBe('POST');
    expect(seen[0].url).toBe(`/2010-04-01/Accounts/${ACCOUNT}/Messages.json`);
    expect(seen[0].headers.authorization).toBe(`Basic ${Buffer.from(`${ACCOUNT}:secret-token`).toString('base64')}`);
    expect(seen[0].headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
    expect([...new URLSearchParams(seen[0].body)]).toEqual([
      ['To', '+447911123456'],
      ['From', '+447700900123'],
      ['Body', 'Your parcel ships today'],
      ['MediaUrl', 'https://cdn.example.com/label.pdf'],
      ['StatusCallback', SMS_URL],
    ]);
  });

  test('a Messaging Service replaces From; media alone is allowed', async () => {
    answer = { status: 201, body: { sid: 'MM88888888888888888888888888888888' } };
    await send({ to: { to: '+447911123456', from: '+447700900123' }, text: '', media: { url: 'https://cdn.example.com/a.jpg', type: 'image' } }, { ...sendConfig(), messagingServiceSid: 'MG0123456789abcdef0123456789abcdef', statusCallback: '' });
    expect([...new URLSearchParams(seen[0].body)]).toEqual([
      ['To', '+447911123456'],
      ['MessagingServiceSid', 'MG0123456789abcdef0123456789abcdef'],
      ['MediaUrl', 'https://cdn.example.com/a.jpg'],
    ]);
  });

  test('bad requests are refused before calling Twilio', async () => {
    await expect(send({ to: {}, text: 'x' })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'to.to' });
    await expect(send({ to: { to: '+447911123456' }, text: 'x' })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'from' });
    await expect(send({ to: { to: '+447911123456', from: '+1' }, text: '' })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'text' });
    await expect(send({ to: { to: '+447911123456' }, text: 'x' }, { authToken: 'x' })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'accountSid' });
    expect(seen).toHaveLength(0);
  });

  test.each([
    [429, { code: 20429, message: 'Too Many Requests', more_info: 'https://www.twilio.com/docs/errors/20429', status: 429 }, { 'retry-after': '7' }, 'RATE_LIMITED', 'retry after 7 s'],
    [401, { code: 20003, message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 }, {}, 'AUTH_FAILED', 'Authenticate'],
    [400, { code: 21610, message: 'Attempt to send to unsubscribed recipient', more_info: 'https://www.twilio.com/docs/errors/21610', status: 400 }, {}, 'PROVIDER_ERROR', 'unsubscribed (replied STOP)'],
    [400, { code: 21211, message: "The 'To' number +1 is not a valid phone number.", more_info: 'https://www.twilio.com/docs/errors/21211', status: 400 }, {}, 'PROVIDER_ERROR', 'not a valid phone number'],
    [500, { message: 'oops' }, {}, 'PROVIDER_ERROR', 'HTTP 500'],
  ])('HTTP %d -> the right error', async (status, body, headers, code, words) => {
    answer = { status, body, headers };
    const error = await send({ to: { to: '+447911123456', from: '+447700900123' }, text: 'hi' }).catch((e: OmnithreadError) => e);
    expect(error).toBeInstanceOf(OmnithreadError);
    expect(error).toMatchObject({ code, message: expect.stringContaining(words) });
    if (code === 'RATE_LIMITED') expect((error as OmnithreadError).details).toMatchObject({ retryAfterSeconds: 7 });
  });

  test('after an unknown send, looks the message up in Twilio\'s list (To and From filters): its sid when Twilio has it, null when not', async () => {
    // The Message list as Twilio documents it: GET .../Messages.json?To=&From=&PageSize=, newest first, dates RFC 2822.
    // https://www.twilio.com/docs/messaging/api/message-resource#read-multiple-message-resources
    const since = Date.parse('2026-11-24T10:00:00Z');
    answer = {
      status: 200,
      body: {
        messages: [
          { sid: 'SMaaaa', body: 'Your parcel ships today', to: '+447911123456', from: '+447700900123', date_created: 'Tue, 24 Nov 2026 10:00:02 +0000', status: 'delivered' },
          { sid: 'SMold0', body: 'Your parcel ships today', to: '+447911123456', from: '+447700900123', date_created: 'Mon, 23 Nov 2026 09:00:00 +0000', status: 'delivered' },
        ],
        page: 0,
        page_size: 50,
        next_page_uri: null,
      },
    };
    const request = { to: { to: '+447911123456', from: '+447700900123' }, text: 'Your parcel ships today' };
    await expect(twilioSmsChannel.findSent!(request, sendConfig(), axios.create(), since)).resolves.toBe('SMaaaa');
    expect(seen[0].method).toBe('GET');
    expect(seen[0].url).toBe(`/2010-04-01/Accounts/${ACCOUNT}/Messages.json?To=%2B447911123456&PageSize=50&From=%2B447700900123`);
    expect(seen[0].headers.authorization).toBe(`Basic ${Buffer.from(`${ACCOUNT}:secret-token`).toString('base64')}`);
    // Another text, or the same text from before the reservation (yesterday's answer): not this one.
    await expect(twilioSmsChannel.findSent!({ ...request, text: 'Something else' }, sendConfig(), axios.create(), since)).resolves.toBeNull();
    await expect(twilioSmsChannel.findSent!(request, sendConfig(), axios.create(), since + 3_600_000)).resolves.toBeNull();
    answer = { status: 500, body: { message: 'oops' } };
    await expect(twilioSmsChannel.findSent!(request, sendConfig(), axios.create(), since)).rejects.toMatchObject({ code: 'PROVIDER_ERROR' });
  });

  test('the voice channel does not send', () => {
    expect(twilioVoiceChannel.send).toBeUndefined();
    expect(twilioSmsChannel.secrets).toEqual(['authToken']);
    expect(twilioVoiceChannel.settings).toEqual(['authToken', 'publicUrl', 'greeting', 'record', 'transcribe', 'maxRecordingSeconds', 'dialNumber', 'transcribeCallbackUrl']);
  });
});
