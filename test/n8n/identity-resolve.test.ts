/**
 * Identity Resolve inside n8n's engine: a two-node workflow (input -> Identity Resolve) run by
 * WorkflowExecute, for every operation, Continue On Fail, and the node errors users see.
 */
import { TYPES, chain, cleanupAfterAll, node, runWorkflow, type RunResult } from '../support/n8n-harness';
import type { INodeExecutionData, INodeParameters } from 'n8n-workflow';
import { acquireStore, resolveSettings } from '../../shared';
import { email, message, phone, scoped } from '../support/messages';
import { countRows } from '../support/stores';

cleanupAfterAll();

const items = (...json: object[]): INodeExecutionData[] => json.map((j) => ({ json: j as never }));

function runIdentity(parameters: INodeParameters, input: INodeExecutionData[], extra: { continueOnFail?: boolean } = {}): Promise<RunResult> {
  return runWorkflow(
    { nodes: [node('Input', TYPES.input), node('Identity Resolve', TYPES.identity, parameters, extra)], connections: chain('Input', 'Identity Resolve') },
    'Input',
    input,
  );
}

async function identity(parameters: INodeParameters, ...input: object[]): Promise<Record<string, any>[]> {
  const result = await runIdentity(parameters, items(...(input.length ? input : [{}])));
  return result.output('Identity Resolve').map((i) => i.json as Record<string, any>);
}

const embeddedRows = async () => countRows((await acquireStore(resolveSettings(undefined, 'n8n').store)).store);

describe('Identity Resolve in WorkflowExecute', () => {
  test('Resolve and Record (the default) records the input item\'s message and explains the sender; a rerun is idempotent', async () => {
    const msg = message([email('rosa@fastmail.fm'), scoped('webchat_visitor', 'shop', 'v-rosa', 'verified')], { channel: 'webchat', text: 'where is my order?' });
    const result = await runIdentity({}, items({ message: msg }));
    const [first] = result.output('Identity Resolve');
    expect(first.pairedItem).toEqual({ item: 0 });
    expect(first.json).toMatchObject({
      duplicate: false,
      contact: { identities: expect.arrayContaining([expect.objectContaining({ kind: 'email', value: 'rosa@fastmail.fm' })]) },
      identity: { created: true, explanation: expect.any(String), steps: expect.any(Array) },
      conversation: { status: 'open', channels: ['webchat'] },
      event: { kind: 'message', text: 'where is my order?' },
    });

    const again = (await runIdentity({}, items({ message: msg }))).output('Identity Resolve')[0].json as Record<string, any>;
    expect(again).toMatchObject({ duplicate: true, contact: { id: (first.json.contact as { id: string }).id } });
    expect(again.identity).toMatchObject({ created: false, explanation: expect.stringContaining('recorded before') });
    expect(again.event.id).toBe((first.json.event as { id: string }).id);
  });

  test('one output item per input item, each paired with its input', async () => {
    const result = await runIdentity(
      { operation: 'resolve', message: '={{ $json.payload }}' },
      items({ payload: message([email('one@fastmail.fm')]) }, { payload: message([email('two@fastmail.fm')]) }, { payload: message([email('one@fastmail.fm')]) }),
    );
    const out = result.output('Identity Resolve');
    expect(out.map((i) => i.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }]);
    const ids = out.map((i) => (i.json.contact as { id: string }).id);
    expect(ids[0]).toBe(ids[2]);
    expect(ids[0]).not.toBe(ids[1]);
  });

  test('the Message parameter also takes JSON text', async () => {
    const [out] = await identity({ message: JSON.stringify(message([email('json-text@fastmail.fm')])) });
    expect(out.contact.identities[0]).toMatchObject({ kind: 'email', value: 'json-text@fastmail.fm' });
  });

  test('Resolve Handles links email, phone and channel IDs into one contact; Dry Run writes nothing', async () => {
    const before = await embeddedRows();
    const [dry] = await identity({ operation: 'resolveHandles', email: 'dry@fastmail.fm', dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, identity: { created: true } });
    expect(await embeddedRows()).toEqual(before);

    const [created] = await identity({
      operation: 'resolveHandles',
      email: 'Lena@Fastmail.fm',
      phone: '+44 7911 123001',
      trust: 'channel',
      handles: JSON.stringify([{ kind: 'telegram_user', scope: 'bot-1', value: '4242', trust: 'channel' }]),
      name: 'Lena',
    });
    expect(created.identity.created).toBe(true);
    expect(created.contact.name).toBe('Lena');
    expect(created.contact.identities.map((i: { kind: string; value: string }) => `${i.kind}:${i.value}`).sort()).toEqual([
      'email:lena@fastmail.fm',
      'phone:+447911123001',
      'telegram_user:4242',
    ]);
    // A phone the system vouches for finds the person; a typed (asserted) one only suggests a merge.
    const [found] = await identity({ operation: 'resolveHandles', phone: '+447911123001', trust: 'channel' });
    expect(found.contact.id).toBe(created.contact.id);
    expect(found.identity.created).toBe(false);
  });

  test('Get by contact ID (from the input item by default) and by handle; an unknown handle is "not found", not an error', async () => {
    const [rec] = await identity({}, { message: message([email('getme@fastmail.fm'), phone('+447911123002')]) });
    const id = rec.contact.id;
    const [byInput] = await identity({ operation: 'get' }, { contactId: id });
    expect(byInput).toMatchObject({ found: true, contact: { id } });
    const [byNested] = await identity({ operation: 'get' }, { contact: { id } });
    expect(byNested.contact.id).toBe(id);
    const [byPhone] = await identity({ operation: 'get', lookupBy: 'handle', handleKind: 'phone', handleValue: '07911 123002' }, {});
    expect(byPhone).toMatchObject({ found: false }); // no default country: a national number is not read
    const [byE164] = await identity({ operation: 'get', lookupBy: 'handle', handleKind: 'phone', handleValue: '+447911123002' });
    expect(byE164.contact.id).toBe(id);
    const [scopedMissing] = await identity({ operation: 'get', lookupBy: 'handle', handleKind: 'webchat_visitor', handleValue: 'v-none', handleScope: 'shop' });
    expect(scopedMissing).toEqual({ found: false, contact: null });
  });

  test('Merge, then Unmerge by merged contact ID and by merge ID', async () => {
    const [a] = await identity({}, { message: message([email('merge-a@fastmail.fm')]) });
    const [b] = await identity({}, { message: message([email('merge-b@fastmail.fm')]) });
    const [merged] = await identity({ operation: 'merge', otherContactId: b.contact.id, reason: 'same customer, confirmed by phone', actor: 'agent:maria' }, { contactId: a.contact.id });
    expect(merged.merge).toMatchObject({ survivorId: a.contact.id, mergedId: b.contact.id, rule: 'manual', actor: 'agent:maria' });
    expect(merged.contact.mergedContactIds).toEqual([b.contact.id]);

    const [undone] = await identity({ operation: 'unmerge', contactId: b.contact.id, actor: 'agent:maria' });
    expect(undone.merge.undoneAt).toEqual(expect.any(String));
    expect(undone.contact.id).toBe(b.contact.id);
    expect(undone.survivor.mergedContactIds).toEqual([]);

    const [again] = await identity({ operation: 'merge', contactId: b.contact.id, otherContactId: a.contact.id });
    const [byMergeId] = await identity({ operation: 'unmerge', unmergeBy: 'mergeId', mergeId: again.merge.id });
    expect(byMergeId.merge.id).toBe(again.merge.id);
  });

  test('merge suggestions: Get Many (one item each), Accept and Dismiss', async () => {
    const [owner] = await identity({}, { message: message([email('lee@corp.io')], { channel: 'email' }) });
    await identity({}, { message: message([scoped('webchat_visitor', 'site', 'v-lee'), email('lee@corp.io', 'asserted')], { channel: 'webchat' }) });
    const [owner2] = await identity({}, { message: message([email('kim@corp.io')], { channel: 'email' }) });
    await identity({}, { message: message([scoped('webchat_visitor', 'site', 'v-kim'), email('kim@corp.io', 'asserted')], { channel: 'webchat' }) });

    const open = await identity({ resource: 'mergeSuggestion', operation: 'getAll' });
    const ours = open.filter((s) => /email:(lee|kim)@corp\.io/.test(s.evidence.handle));
    expect(ours).toHaveLength(2);
    expect(ours.every((s) => s.status === 'open')).toBe(true);
    const forLee = await identity({ resource: 'mergeSuggestion', operation: 'getAll', contactId: owner.contact.id });
    expect(forLee).toHaveLength(1);

    const [accepted] = await identity({ resource: 'mergeSuggestion', operation: 'accept', suggestionId: forLee[0].id, actor: 'agent:sam' });
    expect(accepted.merge).toMatchObject({ survivorId: owner.contact.id, rule: 'suggestion', actor: 'agent:sam' });
    const [forKim] = await identity({ resource: 'mergeSuggestion', operation: 'getAll', contactId: owner2.contact.id });
    const [dismissed] = await identity({ resource: 'mergeSuggestion', operation: 'dismiss', suggestionId: forKim.id });
    expect(dismissed.status).toBe('dismissed');
    expect(await identity({ resource: 'mergeSuggestion', operation: 'getAll' })).toHaveLength(open.length - 2);
    expect(await identity({ resource: 'mergeSuggestion', operation: 'getAll', status: 'dismissed', limit: 5 })).toEqual([expect.objectContaining({ id: forKim.id })]);
  });

  test('Export returns everything about a contact; Erase removes it', async () => {
    const [rec] = await identity({}, { message: message([email('forget-me@fastmail.fm')], { text: 'please delete my data' }) });
    const [exported] = await identity({ operation: 'export' }, { contactId: rec.contact.id });
    expect(exported).toMatchObject({ contact: { id: rec.contact.id }, events: [expect.objectContaining({ text: 'please delete my data' })] });
    const [report] = await identity({ operation: 'erase', contactId: rec.contact.id });
    expect(report).toMatchObject({ contactId: rec.contact.id, deleted: { contacts: 1, events: 1 } });
    const [gone] = await identity({ operation: 'get', lookupBy: 'handle', handleKind: 'email', handleValue: 'forget-me@fastmail.fm' });
    expect(gone.found).toBe(false);
  });

  test('Continue On Fail: a bad item becomes an error item paired with it; the others go through', async () => {
    const result = await runIdentity(
      { operation: 'resolve' },
      items({ message: message([email('fine@fastmail.fm')]) }, { message: { channel: 'webchat', from: { handles: [] } } }, { nothing: true }),
      { continueOnFail: true },
    );
    const out = result.output('Identity Resolve');
    expect(out).toHaveLength(3);
    expect(out[0].json.contact).toBeDefined();
    expect(out[1]).toEqual({
      json: { error: expect.stringContaining('providerMessageId'), code: 'INVALID_INPUT', field: 'providerMessageId' },
      pairedItem: { item: 1 },
    });
    expect(out[2].json).toMatchObject({ error: expect.any(String), code: 'INVALID_INPUT' });
    expect(out[2].pairedItem).toEqual({ item: 2 });
  });

  test('without Continue On Fail the run fails with a NodeOperationError naming the parameter and the item', async () => {
    // (An empty required parameter is refused by n8n before the run; an expression can still come out empty.)
    const result = await runIdentity({ operation: 'merge', otherContactId: '={{ $json.other }}' }, items({ contactId: 'c-1' }, { contactId: 'c-2' }));
    expect(result.run.status).toBe('error');
    const error = result.error('Identity Resolve');
    expect(error!.name).toBe('NodeOperationError'); // the engine keeps the error's fields, not its class
    expect(error!.message).toContain('otherContactId');
    expect(error!.description).toContain('"Other Contact ID"');
    expect(error!.context?.itemIndex).toBe(0);

    const missing = await runIdentity({ operation: 'get' }, items({ contactId: 'c-does-not-exist' }));
    const notFound = missing.error('Identity Resolve');
    expect(notFound!.name).toBe('NodeOperationError');
    expect(notFound!.message).toContain('c-does-not-exist');
    expect(notFound!.description).toContain('NOT_FOUND');

    const badJson = await runIdentity({ operation: 'resolveHandles', handles: '[{"kind": ' }, items({}));
    expect(badJson.error('Identity Resolve')!.message).toContain('"Handles (JSON)" parameter is not valid JSON');
  });

  test('a store that cannot be reached is a NodeApiError saying so', async () => {
    const result = await runWorkflow(
      {
        nodes: [
          node('Input', TYPES.input),
          node('Identity Resolve', TYPES.identity, { operation: 'get' }, { credentials: { omnithreadStoreApi: { id: '1', name: 'Down' } } }),
        ],
        connections: chain('Input', 'Identity Resolve'),
      },
      'Input',
      items({ contactId: 'c-1' }),
      { credentials: { omnithreadStoreApi: { storeType: 'postgres', host: '127.0.0.1', port: 1, database: 'none', user: 'nobody' } } },
    );
    const error = result.error('Identity Resolve');
    expect(error).toMatchObject({ name: 'NodeApiError', httpCode: '503' });
    expect(error!.message).toContain('Omnithread store is unavailable');
    expect(error!.description).toContain('Could not connect to the PostgreSQL store');
  });
});
