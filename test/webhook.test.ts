import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  OmnithreadError,
  WebhookRequest,
  acquireStore,
  channelConfig,
  closeAllStores,
  genericChannel,
  handleWebhook,
  isProviderReply,
  omnithreadFor,
  renderReply,
  resolveSettings,
  runIdentityOperation,
  runTimelineOperation,
  signGeneric,
} from '../shared';
import { countRows, describeStores } from './support/stores';

const SECRET = 'shh-its-a-secret';
const config = channelConfig(genericChannel, { secret: SECRET });

function request(body: unknown, headers: Record<string, string> = {}, sign = true): WebhookRequest {
  const raw = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(sign ? { 'x-omnithread-signature': signGeneric(SECRET, raw) } : {}), ...headers },
    query: {},
    rawBody: raw,
  };
}

const delivery = (messageId: string, extra: Record<string, unknown> = {}) => ({
  messageId,
  channel: 'webchat',
  account: 'shop',
  from: { name: 'Maya', email: 'maya@fastmail.fm', handles: [{ kind: 'webchat_visitor', scope: 'shop', value: 'v-1', trust: 'channel' }] },
  text: 'Where is my parcel?',
  ...extra,
});

describe('generic JSON channel', () => {
  test('parses one message, an array, or { messages: [...] }, with shorthand handles at the default trust', () => {
    const messagesOf = (items: ReturnType<typeof genericChannel.parse>) => items.map((i) => (i.type === 'message' ? i.message : undefined));
    const single = messagesOf(genericChannel.parse(request(delivery('a')), config));
    expect(single).toHaveLength(1);
    expect(single[0]).toMatchObject({
      channel: 'webchat',
      channelAccount: 'shop',
      providerMessageId: 'a',
      from: { name: 'Maya', handles: [{ kind: 'email', value: 'maya@fastmail.fm', trust: 'channel' }, { kind: 'webchat_visitor', scope: 'shop', value: 'v-1' }] },
      text: 'Where is my parcel?',
    });
    expect(genericChannel.parse(request([delivery('a'), delivery('b')]), config)).toHaveLength(2);
    expect(genericChannel.parse(request({ messages: [delivery('a')] }), config)).toHaveLength(1);
    const asserted = messagesOf(genericChannel.parse(request({ messageId: 7, from: { phone: '+447911123456', accountId: 42 } }), channelConfig(genericChannel, { defaultTrust: 'asserted', channelName: 'forms' })));
    expect(asserted[0]).toMatchObject({ channel: 'forms', providerMessageId: '7', from: { handles: [{ kind: 'phone', trust: 'asserted' }, { kind: 'account', value: '42', trust: 'asserted' }] } });
  });

  test('verifies HMAC-SHA256 over the raw body, with or without the sha256= prefix', () => {
    const body = JSON.stringify(delivery('a'));
    const hex = signGeneric(SECRET, body).slice('sha256='.length);
    expect(genericChannel.verify(request(body), config)).toEqual({ ok: true });
    expect(genericChannel.verify(request(body, { 'x-omnithread-signature': hex }, false), config)).toEqual({ ok: true });
    expect(genericChannel.verify(request(body, { 'x-omnithread-signature': hex.toUpperCase() }, false), config)).toEqual({ ok: true });
    expect(genericChannel.verify(request(body, {}, false), config)).toMatchObject({ ok: false, status: 401, reason: 'missing x-omnithread-signature header' });
    expect(genericChannel.verify(request(body, { 'x-omnithread-signature': signGeneric('wrong', body) }, false), config)).toMatchObject({ ok: false, status: 401 });
    // One byte changed after signing.
    const tampered = { ...request(body), rawBody: Buffer.from(body.replace('parcel', 'parcels')) };
    expect(genericChannel.verify(tampered, config).ok).toBe(false);
    // Without a secret, nothing is checked.
    expect(genericChannel.verify(request(body, {}, false), channelConfig(genericChannel, {}))).toEqual({ ok: true });
  });

  test.each([
    ['', '(body)', 'empty'],
    ['{not json', '(body)', 'not valid JSON'],
    [JSON.stringify({ from: { email: 'a@corp.io' } }), 'messageId', 'messageId'],
    [JSON.stringify({ messageId: 'x', from: {} }), 'from', 'needs at least one of email, phone, accountId or handles'],
    [JSON.stringify({ messageId: 'x', from: { email: 'a@corp.io' }, sentAt: 'today' }), 'sentAt', 'ISO-8601'],
    [JSON.stringify({ messageId: 'x', from: { handles: [{ kind: 'telegram_user', value: '1' }] } }), 'from.handles.0.scope', 'needs a scope'],
    [JSON.stringify([]), '(root)', 'at least one'],
    [JSON.stringify({ messages: [delivery('a'), { from: { email: 'a@corp.io' } }] }), 'messages.1.messageId', 'messageId'],
  ])('malformed body %s is refused naming %s', (raw, field, words) => {
    let error: OmnithreadError | undefined;
    try {
      genericChannel.parse(request(raw), config);
    } catch (e) {
      error = e as OmnithreadError;
    }
    expect(error?.code).toBe('INVALID_INPUT');
    expect(error?.field).toBe(field);
    expect(error?.message).toContain(words);
  });
});

test('replies go on the wire as JSON, text (handshake echoes) or XML (TwiML)', () => {
  expect(renderReply({ status: 400, body: { error: 'x' } })).toEqual({ status: 400, contentType: 'application/json; charset=utf-8', body: '{"error":"x"}', headers: {} });
  expect(renderReply({ status: 200, body: 'challenge-123', type: 'text' })).toEqual({ status: 200, contentType: 'text/plain; charset=utf-8', body: 'challenge-123', headers: {} });
  expect(renderReply({ status: 200, body: '<Response/>', type: 'xml' })).toMatchObject({ contentType: 'text/xml; charset=utf-8', body: '<Response/>' });
  expect([isProviderReply({ status: 200, body: {} }), isProviderReply({ status: 200, body: '', type: 'xml' })]).toEqual([false, true]);
});

describeStores('webhook handler', (ctx) => {
  test('records, answers 200, and returns the new messages; a redelivery is recognised', async () => {
    const ot = ctx().omnithread();
    const first = await handleWebhook(ot, genericChannel, config, request(delivery('w-1')));
    expect(first.reply).toEqual({ status: 200, body: { received: 1, recorded: 1, duplicates: 0 } });
    expect(first.recorded[0].contact.identities.map((i) => i.value).sort()).toEqual(['maya@fastmail.fm', 'v-1']);
    expect(first.recorded[0].message.providerMessageId).toBe('w-1');
    const again = await handleWebhook(ot, genericChannel, config, request(delivery('w-1')));
    expect(again.reply.body).toEqual({ received: 1, recorded: 0, duplicates: 1 });
    expect(again.recorded).toEqual([]);
    expect(again.duplicates[0].event?.id).toBe(first.recorded[0].event?.id);
  });

  test('a GET to a channel without a handshake gets 405', async () => {
    const outcome = await handleWebhook(ctx().omnithread(), genericChannel, config, { ...request(delivery('g-1')), method: 'GET' });
    expect(outcome.reply.status).toBe(405);
  });

  test('a bad signature gets 401 and stores nothing; a malformed body gets 400 naming the field and stores nothing', async () => {
    const ot = ctx().omnithread();
    const before = await countRows(ctx().store);
    const unsigned = await handleWebhook(ot, genericChannel, config, request(delivery('w-2'), {}, false));
    expect(unsigned.reply).toEqual({ status: 401, body: { error: 'Signature check failed: missing x-omnithread-signature header' } });
    const forged = await handleWebhook(ot, genericChannel, config, request(delivery('w-2'), { 'x-omnithread-signature': 'sha256=00' }, false));
    expect(forged.reply.status).toBe(401);
    // A batch with one bad message stores none of them.
    const batch = await handleWebhook(ot, genericChannel, config, request({ messages: [delivery('w-3'), delivery('w-4', { from: { handles: [{ kind: 'email', value: '' }] } })] }));
    expect(batch.reply.status).toBe(400);
    expect(batch.reply.body).toMatchObject({ field: 'messages.1.from.handles.0.value' });
    expect(await countRows(ctx().store)).toEqual(before);
  });

  test('a store failure answers 503 so the provider delivers again', async () => {
    const { store, release } = await acquireStore({ type: 'sqlite', path: join(mkdtempSync(join(tmpdir(), 'omnithread-503-')), 'a.db') });
    const ot = (await import('../shared')).createOmnithread({ store });
    await release(); // closes the store under the handler
    const outcome = await handleWebhook(ot, genericChannel, config, request(delivery('w-5')));
    expect(outcome.reply.status).toBe(503);
    expect((outcome.reply.body as { error: string }).error).toMatch(/^Not recorded, please retry: /);
  });

  test('identity and timeline operations', async () => {
    const ot = ctx().omnithread();
    const { recorded } = await handleWebhook(ot, genericChannel, config, request(delivery('op-1')));
    const contactId = recorded[0].contact.id;
    const resolved = (await runIdentityOperation(ot, { operation: 'resolve', message: recorded[0].message })) as { duplicate: boolean; contact: { id: string }; identity: { explanation: string } };
    expect(resolved).toMatchObject({ duplicate: true, contact: { id: contactId } });
    expect(resolved.identity.explanation).toContain('recorded before');
    expect(await runIdentityOperation(ot, { operation: 'get', handle: { kind: 'email', value: 'MAYA@fastmail.fm' } })).toMatchObject({ found: true, contact: { id: contactId } });
    expect(await runIdentityOperation(ot, { operation: 'get', handle: { kind: 'email', value: 'nobody@corp.io' } })).toEqual({ found: false, contact: null });
    const dry = (await runIdentityOperation(ot, { operation: 'resolveHandles', handles: [{ kind: 'phone', value: '+447911123456', trust: 'channel' }], dryRun: true })) as { identity: { created: boolean }; dryRun: boolean };
    expect(dry).toMatchObject({ dryRun: true, identity: { created: true } });
    await expect(runIdentityOperation(ot, { operation: 'get' })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'contactId' });
    await expect(runIdentityOperation(ot, { operation: 'unmerge' })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'contactId' });
    await expect(runIdentityOperation(ot, { operation: 'fly' } as never)).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'operation' });

    const appended = (await runTimelineOperation(ot, { operation: 'append', contactId, kind: 'note', text: 'VIP' })) as { kind: string };
    expect(appended.kind).toBe('note');
    const items = (await runTimelineOperation(ot, { operation: 'items', contactId, filter: { kinds: ['message'] } })) as unknown[];
    expect(items).toHaveLength(1);
    const timeline = (await runTimelineOperation(ot, { operation: 'timeline', contactId })) as { contact: { id: string }; events: unknown[]; conversations: unknown[] };
    expect(timeline.contact.id).toBe(contactId);
    expect(timeline.events).toHaveLength(2);
    expect(timeline.conversations).toHaveLength(1);
    const transcript = (await runTimelineOperation(ot, { operation: 'transcript', contactId, maxTokens: 300 })) as { text: string };
    expect(transcript.text).toContain('Customer: Where is my parcel?');
    await expect(runTimelineOperation(ot, { operation: 'items', contactId: '' })).rejects.toMatchObject({ field: 'contactId' });
  });
});

describe('node settings and the shared store cache', () => {
  afterAll(() => closeAllStores());

  test('settings map to a store and rules; defaults put SQLite in the engine folder', () => {
    expect(resolveSettings(undefined, 'n8n', '/srv/n8n')).toMatchObject({
      store: { type: 'sqlite', path: '/srv/n8n/.n8n/omnithread/omnithread.db' },
      workspace: 'default',
      idleTimeoutMs: 7 * 24 * 3600 * 1000,
    });
    expect(resolveSettings({}, 'node-red', '/data').store).toEqual({ type: 'sqlite', path: '/data/omnithread/omnithread.db', synchronous: 'normal' });
    expect(resolveSettings({ sqliteSynchronous: 'full' }, 'node-red', '/data').store).toMatchObject({ type: 'sqlite', synchronous: 'full' });
    expect(() => resolveSettings({ sqliteSynchronous: 'off' } as never, 'node-red', '/data')).toThrow(/sqliteSynchronous/);
    const pg = resolveSettings(
      { storeType: 'postgres', host: 'db', port: '6543' as never, database: 'omni', user: 'u', password: 'p', workspace: 'eu', defaultCountry: 'GB', sharedMailboxes: 'a@x.io, b@x.io\nc@x.io', idleTimeoutDays: 2 },
      'n8n',
    );
    expect(pg.store).toEqual({ type: 'postgres', host: 'db', port: 6543, database: 'omni', user: 'u', password: 'p', ssl: false, poolSize: 10, erasePurge: 'vacuum', preparedStatements: true });
    expect(pg.rules).toEqual({ defaultCountry: 'GB', autoMergeTrust: 'channel', sharedMailboxes: ['a@x.io', 'b@x.io', 'c@x.io'] });
    expect(pg.workspace).toBe('eu');
    expect(resolveSettings({ storeType: 'postgres', postgresUrl: 'postgres://u:p@h/d' }, 'n8n').store).toEqual({
      type: 'postgres',
      connectionString: 'postgres://u:p@h/d',
      ssl: false,
      poolSize: 10,
      erasePurge: 'vacuum',
      preparedStatements: true,
    });
    // Behind PgBouncer in transaction mode (before 1.21) the setting is switched off.
    expect(resolveSettings({ storeType: 'postgres', postgresUrl: 'postgres://u:p@h/d', preparedStatements: false }, 'n8n').store).toMatchObject({ preparedStatements: false });
    expect(() => resolveSettings({ storeType: 'mongo' } as never, 'n8n')).toThrow(/storeType/);
  });

  test('one open store per configuration, closed when its last user releases it', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'omnithread-cache-')), 'a.db');
    const a = await acquireStore({ type: 'sqlite', path });
    const b = await acquireStore({ path, type: 'sqlite' });
    expect(b.store).toBe(a.store);
    // The same file by another spelling of its path is the same store too.
    const relative = await acquireStore({ type: 'sqlite', path: require('node:path').relative(process.cwd(), path) });
    expect(relative.store).toBe(a.store);
    await relative.release();
    await a.release();
    await a.release(); // releasing twice is harmless
    await b.store.driver.read((db) => db.get('SELECT 1 AS one'));
    await b.release();
    await expect(b.store.driver.read((db) => db.get('SELECT 1'))).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    const ot = await omnithreadFor(resolveSettings({ sqlitePath: path, workspace: 'w1' }, 'n8n'));
    expect(ot.workspace).toBe('w1');
    // A store that fails to open is not cached.
    await expect(acquireStore({ type: 'postgres', connectionString: 'postgres://x:y@127.0.0.1:1/z' })).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    await expect(acquireStore({ type: 'postgres', connectionString: 'postgres://x:y@127.0.0.1:1/z' })).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
  });
});
