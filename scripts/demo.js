#!/usr/bin/env node
// `npm start`: Node-RED 5 embedded in one process, with this package's nodes (loaded from dist/) and the
// continuity example deployed on an embedded SQLite store under .data/. It prints the editor URL and
// curl commands that play the story: one customer on web chat, then email, then the phone line, and
// every reply shows the one timeline Omnithread keeps for them. A second tab serves the web chat widget:
// its demo page (anonymous visitor) and a pretend shop page where Maya is signed in (verified by user
// hash), so a chat there joins the timeline the curls built.
//
//   npm start                 start (first start deploys the demo flow)
//   npm start -- --reset      deploy the demo flow again and start with an empty demo store
//   PORT=1881 npm start       another port
//   OMNITHREAD_DEMO_DIR=/tmp/x npm start   keep the demo's flows and store elsewhere (default ./.data/node-red)
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const root = path.join(__dirname, '..');
const userDir = process.env.OMNITHREAD_DEMO_DIR ? path.resolve(process.env.OMNITHREAD_DEMO_DIR) : path.join(root, '.data', 'node-red');
const flowFile = path.join(userDir, 'flows.json');
const storeDir = path.join(userDir, 'omnithread'); // where the flow's store (empty SQLite path) keeps its file
const EXAMPLE = path.join(root, 'workflows', 'node-red', 'continuity-basics.json');
const HOST = '127.0.0.1';
/** The web chat tab: its path, site and the identity secret the pretend shop signs Maya's email with. */
const WEBCHAT = { path: '/omnithread/webchat', siteId: 'example-store', identitySecret: 'demo-identity-secret-change-me' };
const MAYA = { email: 'maya.lindqvist@fastmail.fm', name: 'Maya Lindqvist' };
/** The desk tab: where it is served, and the demo's agents (signed in by the links the banner prints). */
const DESK = { path: '/omnithread/desk' };
const DEMO_AGENTS = [
  { id: 'lena', name: 'Lena (admin)', role: 'admin', skills: { billing: 4, shipping: 4 } },
  { id: 'sam', name: 'Sam', role: 'agent', skills: { shipping: 3 } },
];

/**
 * The demo flow: the continuity example as shipped, on a tab of its own, plus two core change nodes so a
 * terminal shows the result well: one keeps how omnithread-in recognised the sender, one turns the
 * timeline into a short, pretty-printed summary.
 */
function demoFlow() {
  const example = JSON.parse(fs.readFileSync(EXAMPLE, 'utf8'));
  const tab = example.find((n) => n.z)?.z ?? 'omnithread-demo-tab';
  const byType = (type) => example.find((n) => n.type === type);
  const webhook = byType('omnithread-in');
  const identity = byType('omnithread-identity');
  const timeline = byType('omnithread-timeline');
  const reply = example.find((n) => n.id === timeline.wires[0][0]);
  const remember = {
    id: 'omnithread-demo-recognised',
    type: 'change',
    z: tab,
    name: 'keep how they were recognised',
    rules: [{ t: 'set', p: 'recognised', pt: 'msg', to: 'payload.identity.explanation', tot: 'msg' }],
    // Below the chain, between the two nodes it joins (tidy and apart in the editor: test/node-red/flows.test.ts).
    x: (webhook.x + identity.x) / 2,
    y: webhook.y + 70,
    wires: [[identity.id]],
  };
  // A function node rather than a JSONata expression: JSONata allocated about half of all memory per
  // request under load (measured with the sampling heap profiler), and this runs for every curl.
  const summary = {
    id: 'omnithread-demo-summary',
    type: 'function',
    z: tab,
    name: 'summary for the terminal',
    func: [
      'const p = msg.payload;',
      'const line = (e) => e.occurredAt.slice(0, 19).replace("T", " ") + "  " + (e.channel || "-").padEnd(8) + " " +',
      '  (e.kind === "message" ? e.text : "(" + e.kind + (e.kind === "channel_switch" ? " " + e.data.from + " -> " + e.data.to : "") + ")");',
      'msg.payload = JSON.stringify({',
      '  recognised: msg.recognised,',
      '  contact: {',
      '    id: p.contact.id,',
      '    name: p.contact.name,',
      '    identities: p.contact.identities.map((i) => i.kind + " " + i.value + (i.scope ? " in " + i.scope : "") + " [" + i.trust + "]"),',
      '  },',
      '  conversations: p.conversations.length,',
      '  timeline: p.events.map(line),',
      '}, null, 2) + "\\n";',
      'msg.headers = { "content-type": "application/json" };',
      'return msg;',
    ].join('\n'),
    outputs: 1,
    noerr: 0,
    x: (timeline.x + reply.x) / 2,
    y: timeline.y + 70,
    wires: [[reply.id]],
  };
  // Every request gets an answer: the example's catch node covers the demo's nodes too.
  const catcher = example.find((n) => n.type === 'catch');
  if (catcher && Array.isArray(catcher.scope)) catcher.scope.push(remember.id, summary.id);
  // The example's error row moves down a row to make room for the two.
  for (const node of example) if (node.z && typeof node.y === 'number' && node.y > webhook.y) node.y += 70;
  webhook.wires = [[remember.id]];
  timeline.wires = [[summary.id]];
  return [
    { id: tab, type: 'tab', label: 'Omnithread continuity', info: 'Deployed by `npm start`: the continuity example plus a summary for curl.' },
    ...example,
    remember,
    summary,
    ...webchatFlow(example.find((n) => n.type === 'omnithread-store').id),
    ...deskFlow(example.find((n) => n.type === 'omnithread-store').id),
  ];
}

/** The desk tab: one omnithread-desk node on the demo's store (agents are given access by main()). */
function deskFlow(storeId) {
  const z = 'omnithread-demo-desk-tab';
  return [
    {
      id: z,
      type: 'tab',
      label: 'Omnithread desk',
      info: `The agents' desk at ${DESK.path}. npm start gives the demo agents access and prints a sign-in link for each; in your own flows set the node's Admin agent and password.`,
    },
    {
      id: 'omnithread-demo-desk',
      type: 'omnithread-desk',
      z,
      name: 'Desk for agents',
      store: storeId,
      path: DESK.path,
      title: 'Omnithread Desk (demo)',
      slaMinutes: '60',
      adminAgentId: '',
      x: 160,
      y: 80,
      wires: [],
    },
  ];
}

/**
 * Puts the demo agents on the roster with desk access and issues each a one-time sign-in link (valid a
 * week), through the same store the flow uses (SQLite lets two connections share the file).
 */
async function deskLinks(flow, base) {
  const shared = require(path.join(root, 'dist', 'shared'));
  const storeNode = flow.find((n) => n.type === 'omnithread-store');
  const fields = Object.fromEntries(Object.entries(storeNode).filter(([key]) => !['id', 'type', 'name', 'z', 'x', 'y', 'wires'].includes(key)));
  const ot = await shared.omnithreadFor(shared.resolveSettings(fields, 'node-red', userDir));
  const deskNode = flow.find((n) => n.type === 'omnithread-desk');
  const deskUrl = `${base}${deskNode?.path ?? DESK.path}`;
  const links = [];
  for (const agent of DEMO_AGENTS) {
    if (!(await ot.roster().get(agent.id))) await ot.roster().upsert({ id: agent.id, name: agent.name, kind: 'human', skills: agent.skills });
    const access = await ot.deskData().getAccess(agent.id);
    if (!access) await ot.deskData().setAccess(agent.id, agent.role);
    links.push({ ...agent, ...(await shared.issueDeskLink(ot.deskData(), agent.id, deskUrl, 24 * 7)) });
  }
  return { deskUrl, links };
}

/**
 * The web chat tab: the widget's messages are answered at once by a reply that says which other channels
 * the person's history holds (so a signed-in Maya sees her email and phone messages are known).
 */
function webchatFlow(storeId) {
  const z = 'omnithread-demo-webchat-tab';
  const id = (name) => `omnithread-demo-webchat-${name}`;
  return [
    { id: z, type: 'tab', label: 'Omnithread web chat', info: `Deployed by \`npm start\`: the web chat widget at ${WEBCHAT.path}, answered with what the timeline knows.` },
    {
      id: id('note'),
      type: 'comment',
      z,
      name: 'Web chat: open the URL of "web chat" in a browser; /shop is a page where Maya is signed in (verified)',
      info: [
        `The **web chat** node serves the widget on its own path (${WEBCHAT.path}): the demo page there, the script at ?asset=widget.js,`,
        'the reply feed the widget polls, and the POST the widget sends messages to.',
        '',
        `/shop is a pretend shop page whose server signs the user in the widget: userHash = HMAC-SHA256("${WEBCHAT.identitySecret}", email).`,
        'A verified email joins the contact the curl story built, so the answer lists the other channels.',
      ].join('\n'),
      x: 440,
      y: 40,
      wires: [],
    },
    {
      id: id('in'),
      type: 'omnithread-in',
      z,
      name: 'web chat',
      store: storeId,
      path: WEBCHAT.path,
      channel: 'webchat',
      respond: 'ack',
      siteId: WEBCHAT.siteId,
      allowedOrigins: '',
      widgetTitle: 'Chat with Example Store',
      widgetGreeting: 'Hi! Ask us anything about your order.',
      x: 100,
      y: 100,
      wires: [[id('keep')]],
    },
    {
      id: id('keep'),
      type: 'change',
      z,
      name: 'remember the message',
      rules: [{ t: 'set', p: 'inReplyTo', pt: 'msg', to: 'payload.event.id', tot: 'msg' }],
      x: 310,
      y: 100,
      wires: [[id('history')]],
    },
    { id: id('history'), type: 'omnithread-timeline', z, name: 'their history', store: storeId, operation: 'transcript', maxTokens: 1500, x: 540, y: 100, wires: [[id('text')]] },
    {
      id: id('text'),
      type: 'change',
      z,
      name: 'answer from the history',
      rules: [
        {
          t: 'set',
          p: 'reply',
          pt: 'msg',
          tot: 'jsonata',
          to: [
            '(',
            '  $others := $distinct(payload.conversations.channels)[$ != "webchat"];',
            '  $count($others) > 0',
            '    ? "Thanks! I can see your earlier messages on " & $join($others, ", ") & ", so there is no need to repeat yourself. An agent will follow up right here."',
            '    : "Thanks for your message! An agent will answer right here."',
            ')',
          ].join('\n'),
        },
      ],
      x: 780,
      y: 100,
      wires: [[id('reply')]],
    },
    {
      id: id('reply'),
      type: 'omnithread-reply',
      z,
      name: 'answer in the chat',
      store: storeId,
      channel: 'same',
      replyKey: 'demo-answer',
      fallback: false,
      authorName: 'Omnithread demo',
      authorType: 'ai',
      x: 1040,
      y: 100,
      wires: [[]],
    },
  ];
}

/** A pretend shop page: its server knows Maya and signs her email for the widget (the userHash). */
function shopPage(userHash) {
  const user = JSON.stringify({ ...MAYA, userHash }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Example Store: my orders</title></head>
<body style="font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;color:#222">
<h1>Example Store</h1>
<p>Signed in as <b>${MAYA.name}</b> (${MAYA.email}). Order 5521: <i>delivered</i>.</p>
<p>This page's server signs Maya's email for the chat widget, so Omnithread treats it as verified and the chat joins her timeline.</p>
<script>window.OmnithreadChat = { user: ${user} };</script>
<script src="${WEBCHAT.path}?asset=widget.js" defer></script>
</body></html>
`;
}

/** The story, as curl commands: deterministic message ids, so running one again is a redelivery. */
function storyCurls(baseUrl, webhookPath) {
  const deliveries = [
    {
      title: '1. Web chat: Maya opens the chat widget while signed in to the shop',
      body: {
        messageId: 'wc-5521-0001',
        channel: 'webchat',
        account: 'shop.example-store.io',
        from: {
          name: 'Maya Lindqvist',
          email: 'maya.lindqvist@fastmail.fm',
          handles: [{ kind: 'webchat_visitor', scope: 'shop.example-store.io', value: 'visitor-7f3a', trust: 'channel' }],
        },
        text: 'Hi, my order 5521 says delivered but nothing arrived.',
      },
    },
    {
      title: '2. Email, from the same address',
      body: {
        messageId: '<CAF8x1.5521@mail.fastmail.fm>',
        channel: 'email',
        account: 'support@example-store.io',
        threadKey: '<CAF8x1.5521@mail.fastmail.fm>',
        from: { email: 'Maya.Lindqvist@fastmail.fm' },
        text: 'Following up on the chat: still no parcel. Can you check with the courier?',
      },
    },
    {
      title: '3. Phone line: a transcribed voicemail from her mobile; the caller left her email too',
      body: {
        messageId: 'call-CA5521-01',
        channel: 'voice',
        account: '+442071838750',
        from: { phone: '+44 7911 123456', email: 'maya.lindqvist@fastmail.fm' },
        text: 'Voicemail: Maya again about order 5521, please call me back on this number.',
      },
    },
  ];
  return deliveries.map(
    ({ title, body }) => `# ${title}\ncurl -s ${baseUrl}${webhookPath} -H 'content-type: application/json' \\\n  -d '${JSON.stringify(body)}'`,
  );
}

/**
 * A later message from Maya, whenever you like: its id is made fresh by the shell each time
 * ($(date +%s%N)), so it is never a redelivery and its answer always shows her timeline as it is now
 * (after a chat on /shop, with the chat in it).
 */
function laterCurl(baseUrl, webhookPath) {
  const body = JSON.stringify({
    messageId: 'wc-5521-LATER',
    channel: 'webchat',
    account: 'shop.example-store.io',
    from: { name: 'Maya Lindqvist', email: 'maya.lindqvist@fastmail.fm' },
    text: 'Any news on order 5521?',
  }).replace('wc-5521-LATER', `wc-5521-'"$(date +%s%N)"'`);
  return `# 4. Any time later: a new message from Maya (a fresh id each time you paste it)\ncurl -s ${baseUrl}${webhookPath} -H 'content-type: application/json' \\\n  -d '${body}'`;
}

function fail(message) {
  console.error(`\n${message}\n`);
  process.exit(1);
}

async function main() {
  for (const type of ['omnithread-store', 'omnithread-in', 'omnithread-identity', 'omnithread-timeline']) {
    if (!fs.existsSync(path.join(root, 'dist', 'nodes', 'node-red', `${type}.js`))) fail(`dist/nodes/node-red/${type}.js is missing: run "npm run build" (npm start does it for you).`);
  }
  const express = require('express');
  const RED = require('node-red');

  const reset = process.argv.includes('--reset');
  fs.mkdirSync(userDir, { recursive: true });
  const firstStart = !fs.existsSync(flowFile);
  if (reset) fs.rmSync(storeDir, { recursive: true, force: true });
  if (reset || firstStart) {
    fs.writeFileSync(flowFile, JSON.stringify(demoFlow(), null, 2));
    // The web chat's identity secret is a credential (flows_cred.json, plain because credentialSecret is off).
    fs.writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify({ 'omnithread-demo-webchat-in': { identitySecret: WEBCHAT.identitySecret } }, null, 2));
  }
  const flow = JSON.parse(fs.readFileSync(flowFile, 'utf8'));
  const webhookPath = flow.find((n) => n.type === 'omnithread-in')?.path ?? '/omnithread/continuity';

  const port = Number(process.env.PORT || 1880);
  const settings = {
    userDir,
    flowFile,
    credentialSecret: false,
    nodesDir: [root], // loads this package (its package.json "node-red" key) from dist/, examples included
    httpAdminRoot: '/',
    httpNodeRoot: '/',
    editorTheme: { tours: false },
    telemetry: { enabled: false },
    logging: { console: { level: process.env.NODE_RED_LOG_LEVEL || 'warn', metrics: false, audit: false } },
    functionGlobalContext: {},
  };

  const app = express();
  const server = http.createServer(app);
  RED.init(server, settings);
  const { webchatUserHash } = require(path.join(root, 'dist', 'shared'));
  app.get('/shop', (_req, res) => res.type('html').send(shopPage(webchatUserHash(WEBCHAT.identitySecret, MAYA.email))));
  app.use(settings.httpAdminRoot, RED.httpAdmin);
  // Until the flows have started, a webhook's route does not exist yet: express would answer 404, which
  // providers take as final. Deliveries get 503 with Retry-After instead, so they come again.
  let flowsReady = false;
  app.use((req, res, next) => {
    if (flowsReady || req.method !== 'POST') return next();
    res.status(503).set('Retry-After', '5').json({ error: 'Not recorded, please retry: Node-RED is starting; retry after 5 s' });
  });
  app.use(settings.httpNodeRoot, RED.httpNode);

  await new Promise((resolve) => {
    server.once('error', (error) => {
      if (error.code === 'EADDRINUSE') fail(`Port ${port} on ${HOST} is already in use (another Node-RED or an earlier "npm start"?).\nStop it, or pick another port: PORT=${port + 1} npm start`);
      fail(`Could not listen on ${HOST}:${port}: ${error.message}`);
    });
    server.listen(port, HOST, resolve);
  });
  const flowsStarted = new Promise((resolve) => RED.events.once('flows:started', resolve));
  await RED.start();
  await Promise.race([flowsStarted, new Promise((resolve) => setTimeout(resolve, 5000))]);
  flowsReady = true;

  let stopping = false;
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping Node-RED...`);
    const force = setTimeout(() => process.exit(0), 10_000);
    force.unref();
    try {
      await RED.stop(); // closes the flows: the store config node releases the SQLite store
    } catch (error) {
      console.error(`Node-RED did not stop cleanly: ${error.message}`);
    }
    server.close(() => process.exit(0));
    server.closeAllConnections?.();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  const base = `http://${HOST}:${port}`;
  const desk = flow.some((n) => n.type === 'omnithread-desk') ? await deskLinks(flow, base).catch((error) => ({ error })) : undefined;
  const deskLines = !desk
    ? ['  Desk:     not in your saved flows (npm start -- --reset adds it)']
    : desk.error
      ? [`  Desk:     could not give the demo agents access: ${desk.error.message}`]
      : [
          `  Desk:     ${desk.deskUrl}  (the agents' inbox, timelines and metrics; sign in with a link, each works once for a week)`,
          ...desk.links.map((l) => `            ${l.name.padEnd(13)} ${l.url}`),
        ];
  const state = reset ? 'demo flow deployed again, demo store emptied (--reset)' : firstStart ? 'demo flow deployed (first start)' : 'your saved flows and data kept (npm start -- --reset starts over)';
  console.log(
    [
      '',
      'Omnithread on Node-RED 5 is running.',
      `  Editor:   ${base}/   (${state})`,
      `  Webhook:  POST ${base}${webhookPath}`,
      `  Web chat: ${base}${WEBCHAT.path}  (the widget's demo page, an anonymous visitor)`,
      `            ${base}/shop  (a shop page where Maya is signed in: her chat joins the timeline below)`,
      ...deskLines,
      `  Data:     ${path.relative(process.cwd(), userDir) || userDir} (flows, and the embedded SQLite store in omnithread/)`,
      '',
      'Play the story: the same person writes on three channels. Paste these one by one; each reply is the',
      'timeline so far, and the last one shows ONE contact with ONE chronological timeline of all three messages.',
      '',
      storyCurls(base, webhookPath).join('\n\n'),
      '',
      'Sending one of these again is a redelivery (same messageId): the reply is {"received":1,"recorded":0,"duplicates":1}',
      'and nothing is recorded twice. To play the story from scratch: npm start -- --reset',
      `Then open ${base}/shop and chat as Maya: the answer lists the channels of her history (email, voice).`,
      'This one, pasted after the chat, shows the chat in the same timeline (its message id is new each time):',
      '',
      laterCurl(base, webhookPath),
      '',
      'Open a desk link above to see Maya as an agent does: one person, one timeline, every channel; answer her web chat from there.',
      'The flow is also under Import > Examples > @omnithread/n8n-nodes-omnithread in the editor.',
      '',
      'Ctrl+C stops.',
      '',
    ].join('\n'),
  );
}

if (require.main === module) {
  main().catch((error) => fail(`The demo could not start: ${error.stack || error.message}`));
}

module.exports = { demoFlow, storyCurls, laterCurl, shopPage, WEBCHAT, MAYA, DESK, DEMO_AGENTS };
