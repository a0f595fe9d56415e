'use strict';
/**
 * The soak benchmark's Node-RED user dir (started, probed and stopped by bench/node-red-process.js): one
 * omnithread-in (generic channel, signed with a secret, respond ack) wired to nothing, on an
 * omnithread-store SQLite file; plus Node-RED's own http in -> http response on another path, the baseline.
 */
const { writeUserDir } = require('../node-red-process');

const IDS = { tab: 'soak-tab', store: 'soak-store', in: 'soak-in', baselineIn: 'soak-baseline-in', baselineOut: 'soak-baseline-out' };

/** The flows, the secret as a credential, and settings (bench/node-red-process.js writeUserDir). */
function makeUserDir(dir, { sqlitePath, webhookPath, baselinePath, secret }) {
  const flows = [
    { id: IDS.tab, type: 'tab', label: 'Omnithread soak' },
    { id: IDS.store, type: 'omnithread-store', name: 'soak store', storeType: 'sqlite', sqlitePath, workspace: 'default', autoMergeTrust: 'channel' },
    {
      id: IDS.in,
      type: 'omnithread-in',
      z: IDS.tab,
      name: 'soak webhook',
      store: IDS.store,
      path: webhookPath,
      channel: 'generic',
      respond: 'ack',
      signatureHeader: 'x-omnithread-signature',
      channelName: 'generic',
      defaultTrust: 'channel',
      x: 160,
      y: 80,
      wires: [[]],
    },
    // The baseline: the cheapest POST route Node-RED has, answered by its own nodes (the body echoed back).
    { id: IDS.baselineIn, type: 'http in', z: IDS.tab, name: 'baseline', url: baselinePath, method: 'post', upload: false, x: 140, y: 160, wires: [[IDS.baselineOut]] },
    { id: IDS.baselineOut, type: 'http response', z: IDS.tab, name: '', statusCode: '200', headers: {}, x: 330, y: 160, wires: [] },
  ];
  writeUserDir(dir, { flows, credentials: { [IDS.in]: { secret } } });
}

module.exports = { makeUserDir, IDS };
