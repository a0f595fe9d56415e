/**
 * The optional Omnithread Store credential: its data goes to the core as is (SQLite file, PostgreSQL,
 * workspace, identity options), and its test method (testedBy on every node) reports OK or the reason.
 */
import { TYPES, buildWorkflow, callWebhook, chain, cleanupAfterAll, n8nUserFolder, node, nodeTypeInstances, runWorkflow, testCredential } from '../support/n8n-harness';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ICredentialDataDecryptedObject, INodeParameters } from 'n8n-workflow';
import { NodeStoreSettingsSchema, createOmnithread, openStore, type StoreConfig } from '../../shared';
import { OmnithreadStoreApi } from '../../credentials/OmnithreadStoreApi.credentials';
import { message, email } from '../support/messages';
import { createTestStoreConfig } from '../support/stores';

cleanupAfterAll();

const dir = mkdtempSync(join(tmpdir(), 'omnithread-n8n-cred-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const withCredential = { credentials: { omnithreadStoreApi: { id: 'cred-1', name: 'Omnithread Store' } } };

async function runWithStore(data: ICredentialDataDecryptedObject, parameters: INodeParameters, ...input: object[]) {
  const result = await runWorkflow(
    { nodes: [node('Input', TYPES.input), node('Node', TYPES.identity, parameters, withCredential)], connections: chain('Input', 'Node') },
    'Input',
    (input.length ? input : [{}]).map((json) => ({ json: json as never })),
    { credentials: { omnithreadStoreApi: data } },
  );
  return result.output('Node').map((i) => i.json as Record<string, any>);
}

/** Reads a store directly, outside n8n, to see what the nodes wrote. */
async function peek(config: StoreConfig, workspace: string, value: string) {
  const store = await openStore(config);
  try {
    return await createOmnithread({ store, workspace }).findContact({ kind: 'email', value });
  } finally {
    await store.close();
  }
}

describe('Omnithread Store credential', () => {
  test('its fields are the core\'s store settings, with the same defaults', () => {
    const properties = new OmnithreadStoreApi().properties;
    const shape = NodeStoreSettingsSchema.shape;
    expect(properties.map((p) => p.name).sort()).toEqual(Object.keys(shape).sort());
    const defaults = Object.fromEntries(properties.map((p) => [p.name, p.default]));
    expect(NodeStoreSettingsSchema.parse({})).toEqual(defaults);
    expect(properties.filter((p) => p.typeOptions?.password).map((p) => p.name).sort()).toEqual(['password', 'postgresUrl']);
  });

  test('SQLite file and workspace from the credential: the nodes write there, not to the embedded default', async () => {
    const sqlitePath = join(dir, 'brands.db');
    const eu = { storeType: 'sqlite', sqlitePath, workspace: 'brand-eu' };
    const [rec] = await runWithStore(eu, {}, { message: message([email('cred-sqlite@fastmail.fm')]) });
    expect(rec.duplicate).toBe(false);
    const config: StoreConfig = { type: 'sqlite', path: sqlitePath };
    expect((await peek(config, 'brand-eu', 'cred-sqlite@fastmail.fm'))?.id).toBe(rec.contact.id);
    expect(await peek(config, 'default', 'cred-sqlite@fastmail.fm')).toBeUndefined();
    expect(await peek({ type: 'sqlite', path: join(n8nUserFolder, '.n8n', 'omnithread', 'omnithread.db') }, 'default', 'cred-sqlite@fastmail.fm')).toBeUndefined();

    // Another workspace in the same file sees nothing of brand-eu.
    const [us] = await runWithStore({ ...eu, workspace: 'brand-us' }, { operation: 'get', lookupBy: 'handle', handleKind: 'email', handleValue: 'cred-sqlite@fastmail.fm' });
    expect(us.found).toBe(false);
  });

  test('identity options from the credential: default country and shared mailboxes', async () => {
    const data = { storeType: 'sqlite', sqlitePath: join(dir, 'options.db'), defaultCountry: 'GB', sharedMailboxes: 'info@shop-a.io, support@shop-a.io' };
    const [national] = await runWithStore(data, { operation: 'resolveHandles', phone: '07911 123200', trust: 'channel' });
    expect(national.contact.identities).toEqual([expect.objectContaining({ kind: 'phone', value: '+447911123200' })]);
    const [first] = await runWithStore(data, { operation: 'resolveHandles', email: 'info@shop-a.io', phone: '+447911123201', trust: 'channel' });
    const [second] = await runWithStore(data, { operation: 'resolveHandles', email: 'info@shop-a.io', phone: '+447911123202', trust: 'channel' });
    expect(second.contact.id).not.toBe(first.contact.id); // a shared mailbox never links two people
  });

  test('PostgreSQL from the credential (connection URL, or host/port/database/user/password)', async () => {
    const { config, cleanup } = await createTestStoreConfig('postgres');
    try {
      const url = new URL((config as { connectionString: string }).connectionString);
      const byUrl = { storeType: 'postgres', postgresUrl: url.toString(), workspace: 'pg-team' };
      const [rec] = await runWithStore(byUrl, {}, { message: message([email('cred-pg@fastmail.fm')], { channel: 'email' }) });
      expect((await peek(config, 'pg-team', 'cred-pg@fastmail.fm'))?.id).toBe(rec.contact.id);

      const byFields = {
        storeType: 'postgres',
        host: url.hostname,
        port: Number(url.port),
        database: url.pathname.slice(1),
        user: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
        ssl: false,
        poolSize: 2,
        workspace: 'pg-team',
      };
      const result = await runWorkflow(
        { nodes: [node('Input', TYPES.input), node('Timeline', TYPES.timeline, { operation: 'getEvents' }, withCredential)], connections: chain('Input', 'Timeline') },
        'Input',
        [{ json: { contactId: rec.contact.id } }],
        { credentials: { omnithreadStoreApi: byFields } },
      );
      expect(result.output('Timeline').map((i) => i.json.channel)).toEqual(['email']);

      // The trigger uses the credential too.
      const workflow = buildWorkflow({ nodes: [node('Trigger', TYPES.trigger, { channel: 'generic', channelName: 'webchat' }, withCredential)], connections: {} });
      const call = await callWebhook(workflow, 'Trigger', { body: { messageId: 'pg-1', from: { email: 'cred-pg@fastmail.fm' }, text: 'via the trigger' } }, { credentials: { omnithreadStoreApi: byUrl } });
      expect(call.items[0].json).toMatchObject({ contactId: rec.contact.id, channel: 'webchat', channelSwitch: { from: 'email', to: 'webchat' } });
    } finally {
      await cleanup();
    }
  });

  describe('credential test (testedBy: omnithreadStoreApiTest on every node)', () => {
    test.each(Object.entries(nodeTypeInstances))('%s node declares it and implements it', (_name, nodeType) => {
      // The store credential first; the Email Trigger also needs its IMAP credential (tested in email-trigger.test.ts).
      expect(nodeType.description.credentials?.[0]).toMatchObject({ name: 'omnithreadStoreApi', required: false, testedBy: 'omnithreadStoreApiTest' });
      // The desk replies on every channel it has an account for: the Reply node's send credentials, and its admin.
      const others: Record<string, string[]> = {
        emailTrigger: ['omnithreadImapApi'],
        aiRoute: ['omnithreadLlmApi'],
        desk: ['omnithreadDeskApi', 'omnithreadWhatsAppApi', 'omnithreadMetaPageApi', 'omnithreadTelegramApi', 'omnithreadTwilioApi', 'omnithreadXApi', 'omnithreadSmtpApi'],
      };
      expect(nodeType.description.credentials?.slice(1).map((c) => c.name)).toEqual(others[_name] ?? []);
      expect(typeof nodeType.methods?.credentialTest?.omnithreadStoreApiTest).toBe('function');
    });

    test('OK for a SQLite file it can open and read', async () => {
      const sqlitePath = join(dir, 'tested.db');
      await expect(testCredential({ storeType: 'sqlite', sqlitePath, workspace: 'ops' })).resolves.toEqual({
        status: 'OK',
        message: `Connected to the SQLite store ${sqlitePath}, workspace "ops"`,
      });
    });

    test('OK for PostgreSQL; Error with the reason for a wrong password, an unreachable server or invalid settings', async () => {
      const { config, cleanup } = await createTestStoreConfig('postgres');
      try {
        const url = new URL((config as { connectionString: string }).connectionString);
        await expect(testCredential({ storeType: 'postgres', postgresUrl: url.toString() }, nodeTypeInstances.trigger)).resolves.toEqual({
          status: 'OK',
          message: 'Connected to the PostgreSQL store, workspace "default"',
        });
        url.password = 'wrong-password';
        const wrong = await testCredential({ storeType: 'postgres', postgresUrl: url.toString() });
        expect(wrong.status).toBe('Error');
        expect(wrong.message).toMatch(/password authentication failed/);
      } finally {
        await cleanup();
      }
      const down = await testCredential({ storeType: 'postgres', host: '127.0.0.1', port: 1, database: 'x', user: 'x' }, nodeTypeInstances.timeline);
      expect(down).toEqual({ status: 'Error', message: expect.stringContaining('Could not connect to the PostgreSQL store') });
      const badWorkspace = await testCredential({ storeType: 'sqlite', sqlitePath: join(dir, 'ws.db'), workspace: 'not a workspace!' });
      expect(badWorkspace).toEqual({ status: 'Error', message: expect.stringContaining('workspace') });
      const badPort = await testCredential({ storeType: 'postgres', host: 'localhost', port: 0 });
      expect(badPort).toEqual({ status: 'Error', message: expect.stringContaining('port') });
    });
  });
});
