/**
 * Real traffic through omnithread-in inside Node-RED 5, over real HTTP: the deliveries of
 * test/channels/fixtures/real (written from the providers' documentation; see its README), replayed in
 * order to one node per provider on one store, each answered as the provider expects; then the store
 * holds what test/support/real-traffic.ts says (the same checks as the n8n twin).
 */
import { join } from 'node:path';
import request from 'supertest';
import { acquireStore, createOmnithread } from '../../shared';
import { useRuntimeClock } from '../support/clock';
import { FlowNode, collect, loadFlow, useFlowDir } from '../support/node-red-helper';
import { REAL_TRAFFIC, REPLAY_CLOCK, expectRealTrafficRecorded, isTwiml } from '../support/real-traffic';

useRuntimeClock(REPLAY_CLOCK);

const flowDir = useFlowDir();

test('a day of real-format deliveries from every provider, replayed through omnithread-in', async () => {
  const dir = flowDir();
  // One omnithread-in per channel and settings (a second Telegram node has groups on), on one store.
  const nodeOf = (d: (typeof REAL_TRAFFIC)[number]['delivery']) => `in-${d.channel}-${Object.values(d.settings).join('-').replace(/[^a-z0-9]/gi, '')}`;
  const channels = [...new Map(REAL_TRAFFIC.map((s) => [nodeOf(s.delivery), s.delivery])).values()];
  const flow: FlowNode[] = [
    { id: 'f1', type: 'tab' },
    { id: 'store', type: 'omnithread-store', storeType: 'sqlite', sqlitePath: join(dir, 'omnithread.db'), workspace: 'nodered', autoMergeTrust: 'channel' },
    { id: 'out', z: 'f1', type: 'helper' },
    ...channels.map((d) => ({ id: nodeOf(d), z: 'f1', type: 'omnithread-in', store: 'store', path: `/${nodeOf(d)}`, channel: d.channel, respond: 'ack', wires: [['out']], ...d.settings })),
  ];
  const app = await loadFlow(flow, Object.fromEntries(channels.map((d) => [nodeOf(d), d.secrets])));
  const out = collect('out');
  // The nodes' own connection (one per store file and process, as in production).
  const { store, release } = await acquireStore({ type: 'sqlite', path: join(dir, 'omnithread.db') });
  try {
    for (const step of REAL_TRAFFIC) {
      if (step.before) await step.before(createOmnithread({ store, workspace: 'nodered' }));
      const url = `/${nodeOf(step.delivery)}`;
      const signed = step.delivery.body(`http://127.0.0.1${url}`);
      const before = out.messages.length;
      let req = request(app).post(url).set('content-type', signed.contentType);
      for (const [name, value] of Object.entries(signed.headers)) req = req.set(name, value);
      const res = await req.send(signed.body);
      expect({ step: step.name, status: res.status }).toEqual({ step: step.name, status: 200 });
      if (isTwiml(step)) expect({ step: step.name, type: res.type }).toEqual({ step: step.name, type: 'text/xml' });
      else expect({ step: step.name, answer: res.body }).toMatchObject({ step: step.name, answer: step.answer });
      // One msg per new customer message: never for an edit, a redelivery, our own message or a receipt.
      const recorded = (step.answer as { recorded?: number }).recorded;
      if (recorded !== undefined) {
        await new Promise((r) => setTimeout(r, 20));
        expect({ step: step.name, sent: out.messages.length - before }).toEqual({ step: step.name, sent: recorded });
      }
    }
    await expectRealTrafficRecorded(store, 'nodered');
  } finally {
    await release();
  }
});
