#!/usr/bin/env node
// `npm run test:e2e`: the package as a user installs it, in a real n8n and a real Node-RED.
// 1. npm pack this package.
// 2. n8n 2.40.7 (installed once into a cache folder and reused): install the packed package into its
//    community-nodes folder, import and publish workflows/n8n/continuity-basics.json, start n8n, post the
//    story to the production webhook and check the unified timeline it answers with.
// 3. Node-RED 5 (this project's devDependency, started with its own red.js): install the packed package
//    into a fresh user dir, deploy the shipped example flow, post the story, check the answer.
// 4. In both: the email and web chat template with a real Dovecot, a real SMTP server and Debian's Chromium
//    on the widget the trigger serves (test-e2e/email-webchat.js).
// 5. n8n's editor in Chromium as its owner: the node creator and a template canvas, screenshots in
//    test-output/ (test-e2e/n8n-screens.js); the other templates imported and published.
// Prints one line per check and `e2e: N passed, N failed`; exits non-zero on any failure.
const fs = require('node:fs');
const path = require('node:path');
const { root, log, run, freePort, start, stop, waitForHttp, postJson, pack, story, checkTimeline, tempDir, fakeWhatsApp, whatsappDelivery, until } = require('./lib');
const { startMailServers, emailWebchatStory } = require('./email-webchat');
const { deskCheck, DESK_ADMIN } = require('./desk');
const { n8nScreens } = require('./n8n-screens');
const { queueModeE2e } = require('./queue-mode');

const N8N_VERSION = '2.40.7';
const cacheRoot = process.env.OMNITHREAD_E2E_CACHE || path.join(require('node:os').homedir(), '.cache', 'omnithread-e2e');
const results = [];
const APP_SECRET = 'e2e-whatsapp-app-secret';
const IDENTITY_SECRET = 'e2e-webchat-identity-secret';
const SUPPORT = 'support@example-store.io';

function record(name, problems) {
  results.push({ name, ok: problems.length === 0, problems });
  console.log(`${problems.length ? 'FAIL' : 'ok  '} ${name}${problems.length ? `\n     ${problems.join('\n     ')}` : ''}`);
}

/**
 * `npm install <tgz>` in dir, exactly as the README says, then what it installed: n8n provides
 * n8n-workflow, so the install must not pull it (it is an optional peer dependency: npm 7+ leaves it
 * out) nor its tree (229 packages with native builds when it was a plain peer); the package's own
 * runtime dependencies are plain JavaScript, about a hundred packages.
 */
const MAX_INSTALLED_PACKAGES = 130;
function installAsDocumented(engine, dir, tgz) {
  const started = Date.now();
  run('npm', ['install', tgz], { cwd: dir });
  const lock = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', '.package-lock.json'), 'utf8'));
  const installed = Object.keys(lock.packages).filter((p) => p.startsWith('node_modules/'));
  const problems = [];
  if (installed.some((p) => /(^|\/)node_modules\/n8n-workflow$/.test(p)) || fs.existsSync(path.join(dir, 'node_modules', 'n8n-workflow'))) {
    problems.push('node_modules/n8n-workflow was installed (n8n provides it; the peer dependency must stay optional)');
  }
  const native = installed.filter((p) => /(^|\/)(isolated-vm|ssh2|cpu-features)$/.test(p));
  if (native.length) problems.push(`native packages installed: ${native.join(', ')}`);
  if (installed.length > MAX_INSTALLED_PACKAGES) problems.push(`${installed.length} packages installed (at most ${MAX_INSTALLED_PACKAGES} expected)`);
  record(`${engine}: npm install <tgz> as documented: ${installed.length} packages in ${((Date.now() - started) / 1000).toFixed(0)} s, n8n-workflow not installed`, problems);
  return installed.length;
}

/** n8n from the npm registry, once: about 3 minutes and 2.8 GB, then reused from the cache. */
function ensureN8n() {
  const dir = path.join(cacheRoot, `n8n-${N8N_VERSION}`);
  const bin = path.join(dir, 'node_modules', 'n8n', 'bin', 'n8n');
  const marker = path.join(dir, '.omnithread-ready');
  if (fs.existsSync(marker) && fs.existsSync(bin)) return bin;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'omnithread-e2e-n8n', private: true }));
  log(`installing n8n ${N8N_VERSION} into ${dir} (first run only, a few minutes)`);
  // --ignore-scripts: an optional Kafka client tries to download zlib at install time; n8n's SQLite
  // driver is then rebuilt for this Node (it is the only native part n8n needs here).
  run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', `n8n@${N8N_VERSION}`], { cwd: dir, stdio: 'inherit' });
  run('npm', ['rebuild', 'sqlite3'], { cwd: dir, stdio: 'inherit' });
  fs.writeFileSync(marker, new Date().toISOString());
  return bin;
}

async function n8nE2e(tgz, logDir) {
  const bin = ensureN8n();
  const userFolder = tempDir('n8n');
  const nodesDir = path.join(userFolder, '.n8n', 'nodes');
  // The README's commands: mkdir -p ~/.n8n/nodes && cd ~/.n8n/nodes && npm install <tgz>
  fs.mkdirSync(nodesDir, { recursive: true });
  installAsDocumented('n8n', nodesDir, tgz);

  const template = JSON.parse(fs.readFileSync(path.join(root, 'workflows', 'n8n', 'continuity-basics.json'), 'utf8'));
  const trigger = template.nodes.find((n) => n.type === '@omnithread/n8n-nodes-omnithread.omnithreadTrigger');
  if (!trigger || !trigger.webhookId) throw new Error('the n8n template has no Omnithread Trigger with a webhookId');
  const webhookPath = trigger.parameters.path || 'webhook';
  // The messaging template as an admin leaves it after import: the WhatsApp trigger's secrets, a bot id
  // on the Telegram trigger (it can not be published without one), and a WhatsApp credential on Reply.
  const messaging = JSON.parse(fs.readFileSync(path.join(root, 'workflows', 'n8n', 'messaging-continuity.json'), 'utf8'));
  for (const n of messaging.nodes) {
    if (n.name === 'WhatsApp') n.parameters = { ...n.parameters, appSecret: APP_SECRET, verifyToken: 'e2e-verify' };
    if (n.name === 'Telegram') n.parameters = { ...n.parameters, botId: '123456789', secretToken: 'e2e-telegram-secret' };
    if (n.name === 'Reply') n.credentials = { omnithreadWhatsAppApi: { id: 'e2eWhatsAppCred1', name: 'E2E WhatsApp' } };
  }
  const whatsappTrigger = messaging.nodes.find((n) => n.name === 'WhatsApp');
  // The email and web chat template as an admin leaves it: the identity secret on Web Chat, an IMAP
  // credential on Email (a real Dovecot here) and an SMTP credential on Reply (a real SMTP server).
  const emailWebchat = JSON.parse(fs.readFileSync(path.join(root, 'workflows', 'n8n', 'email-webchat-continuity.json'), 'utf8'));
  for (const n of emailWebchat.nodes) {
    if (n.name === 'Web Chat') n.parameters = { ...n.parameters, identitySecret: IDENTITY_SECRET };
    if (n.name === 'Email') n.credentials = { omnithreadImapApi: { id: 'e2eImapCred00001', name: 'E2E IMAP' } };
    if (n.name === 'Reply') n.credentials = { omnithreadSmtpApi: { id: 'e2eSmtpCred00001', name: 'E2E SMTP' } };
    if (n.name === 'Omnithread Desk') n.credentials = { omnithreadDeskApi: { id: 'e2eDeskAdmin0001', name: 'E2E Desk Admin' } };
  }
  const deskNode = emailWebchat.nodes.find((n) => n.name === 'Omnithread Desk');
  const webchatTrigger = emailWebchat.nodes.find((n) => n.name === 'Web Chat');
  // The AI routing template: the help desk URL of the HTTP Request node set to a local stand-in.
  const helpdesk = await fakeWhatsApp();
  const routing = JSON.parse(fs.readFileSync(path.join(root, 'workflows', 'n8n', 'ai-routing.json'), 'utf8'));
  for (const n of routing.nodes) if (n.type === 'n8n-nodes-base.httpRequest') n.parameters = { ...n.parameters, url: `${helpdesk.base}/handoff` };
  const routingTrigger = routing.nodes.find((n) => n.type === '@omnithread/n8n-nodes-omnithread.omnithreadTrigger');
  // The AI agent bot, Slack handoff and daily report templates, published as imported (n8n asks for their
  // OpenAI, Slack and SMTP credentials only when they run); the Telegram trigger with a bot id, as above.
  const newer = ['ai-agent-bot', 'slack-handoff', 'daily-continuity-report'].map((f) => JSON.parse(fs.readFileSync(path.join(root, 'workflows', 'n8n', `${f}.json`), 'utf8')));
  for (const n of newer[0].nodes) if (n.name === 'Telegram') n.parameters = { ...n.parameters, botId: '123456789', secretToken: 'e2e-telegram-secret' };
  // The roster, imported by the admin into the store n8n will use (its default SQLite file).
  await seedRoster(path.join(userFolder, '.n8n', 'omnithread', 'omnithread.db'));
  const workflowFile = path.join(userFolder, 'workflow.json');
  fs.writeFileSync(workflowFile, JSON.stringify([template, messaging, emailWebchat, routing, ...newer]));
  const fake = await fakeWhatsApp();
  const mail = await startMailServers();
  const credentialsFile = path.join(userFolder, 'credentials.json');
  fs.writeFileSync(
    credentialsFile,
    JSON.stringify([
      { id: 'e2eWhatsAppCred1', name: 'E2E WhatsApp', type: 'omnithreadWhatsAppApi', data: { accessToken: 'e2e-wa-token', phoneNumberId: '', apiVersion: 'v21.0', apiBaseUrl: fake.base } },
      {
        id: 'e2eImapCred00001',
        name: 'E2E IMAP',
        type: 'omnithreadImapApi',
        data: { host: mail.dovecot.host, port: String(mail.dovecot.port), secure: false, user: mail.dovecot.user, password: mail.dovecot.password, allowUnauthorizedCerts: false },
      },
      { id: 'e2eDeskAdmin0001', name: 'E2E Desk Admin', type: 'omnithreadDeskApi', data: { adminAgentId: DESK_ADMIN.agentId, adminPassword: DESK_ADMIN.password } },
      {
        id: 'e2eSmtpCred00001',
        name: 'E2E SMTP',
        type: 'omnithreadSmtpApi',
        data: { host: mail.smtp.host, port: String(mail.smtp.port), secure: false, user: mail.smtp.user, password: mail.smtp.password, from: SUPPORT, fromName: 'Example Store' },
      },
    ]),
  );

  const port = await freePort();
  const env = {
    ...process.env,
    N8N_USER_FOLDER: userFolder,
    N8N_PORT: String(port),
    N8N_LISTEN_ADDRESS: '127.0.0.1',
    N8N_HOST: '127.0.0.1',
    WEBHOOK_URL: `http://127.0.0.1:${port}/`,
    N8N_ENCRYPTION_KEY: 'omnithread-e2e-encryption-key',
    N8N_DIAGNOSTICS_ENABLED: 'false',
    N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
    N8N_TEMPLATES_ENABLED: 'false',
    N8N_PERSONALIZATION_ENABLED: 'false',
    N8N_RUNNERS_ENABLED: 'false',
    // n8n starts its task broker even with runners off, on 5679 by default: another n8n on this machine
    // (a second run, a developer's) would make this one exit at start. A free port of its own instead.
    N8N_RUNNERS_BROKER_PORT: String(await freePort()),
    N8N_SECURE_COOKIE: 'false',
    N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'false',
    N8N_COMMUNITY_PACKAGES_ENABLED: 'true',
    N8N_UNVERIFIED_PACKAGES_ENABLED: 'true',
    EXECUTIONS_MODE: 'regular',
    DB_TYPE: 'sqlite',
  };
  const node = process.execPath; // Node 24 from this project's node_modules/.bin
  run(node, [bin, 'import:credentials', `--input=${credentialsFile}`], { env, cwd: userFolder });
  run(node, [bin, 'import:workflow', `--input=${workflowFile}`], { env, cwd: userFolder });
  run(node, [bin, 'publish:workflow', `--id=${template.id}`], { env, cwd: userFolder });
  run(node, [bin, 'publish:workflow', `--id=${messaging.id}`], { env, cwd: userFolder });
  run(node, [bin, 'publish:workflow', `--id=${emailWebchat.id}`], { env, cwd: userFolder });
  run(node, [bin, 'publish:workflow', `--id=${routing.id}`], { env, cwd: userFolder });
  for (const w of newer) run(node, [bin, 'publish:workflow', `--id=${w.id}`], { env, cwd: userFolder });

  const n8n = start(node, [bin, 'start'], { env, cwd: userFolder, logDir, name: 'n8n' });
  try {
    await waitForHttp(`http://127.0.0.1:${port}/healthz/readiness`, n8n, 180000);
    const url = `http://127.0.0.1:${port}/webhook/${trigger.webhookId}/${webhookPath}`;
    const hook = (w, name) => `http://127.0.0.1:${port}/webhook/${w.nodes.find((n) => n.name === name).webhookId}/webhook`;
    await n8nScreens({ base: `http://127.0.0.1:${port}`, record, canvasId: emailWebchat.id, imported: newer, published: newer.map((w) => w.id), webhooks: { [newer[0].id]: [hook(newer[0], 'Telegram')], [newer[1].id]: [hook(newer[1], 'WhatsApp')] } });
    log(`n8n is up; posting the story to ${url}`);
    await storyChecks('n8n', url, n8n);
    await hostileInputChecks('n8n', url);
    await messagingCheck('n8n', `http://127.0.0.1:${port}/webhook/${whatsappTrigger.webhookId}/webhook`, fake, n8n);
    await routingCheck('n8n', `http://127.0.0.1:${port}/webhook/${routingTrigger.webhookId}/webhook`, helpdesk, n8n);
    // n8n polls at most once a minute: the email's answer can take that long.
    const pageUrl = `http://127.0.0.1:${port}/webhook/${webchatTrigger.webhookId}/webhook`;
    await emailWebchatStory({ engine: 'n8n', record, mail, pageUrl, identitySecret: IDENTITY_SECRET, child: n8n, emailWaitMs: 150_000 });
    await deskCheck({ engine: 'n8n', record, deskUrl: `http://127.0.0.1:${port}/webhook/${deskNode.parameters.path}` });
  } finally {
    await stop(n8n);
    await fake.close();
    await helpdesk.close();
    await mail.close();
  }
}

async function nodeRedE2e(tgz, logDir) {
  const userDir = tempDir('node-red');
  // A Node-RED user dir as Node-RED leaves it (it writes this package.json on first start), then the
  // README's command: cd ~/.node-red && npm install <tgz>
  fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', description: 'A Node-RED Project', version: '0.0.1', private: true }));
  installAsDocumented('node-red', userDir, tgz);
  // The flow users get from Import > Examples: the file the package ships in examples/.
  const shipped = path.join(userDir, 'node_modules', '@omnithread', 'n8n-nodes-omnithread', 'examples', 'continuity-basics.json');
  const flow = JSON.parse(fs.readFileSync(shipped, 'utf8'));
  const input = flow.find((n) => n.type === 'omnithread-in');
  if (!input) throw new Error('the Node-RED example flow has no omnithread-in node');
  // The messaging example, as an admin leaves it: secrets in the credentials file, the API address set.
  const fake = await fakeWhatsApp();
  const messaging = JSON.parse(fs.readFileSync(shipped.replace('continuity-basics.json', 'messaging-continuity.json'), 'utf8'));
  const whatsappIn = messaging.find((n) => n.type === 'omnithread-in' && n.channel === 'whatsapp');
  const whatsappAccount = messaging.find((n) => n.type === 'omnithread-channel' && n.channel === 'whatsapp');
  whatsappAccount.apiBaseUrl = fake.base;
  for (const n of messaging) if (n.type === 'omnithread-in' && n.channel === 'telegram') n.botId = '123456789';
  // The email and web chat example, as an admin leaves it: the mailbox (a real Dovecot), polled every 2
  // seconds, and the SMTP account (a real SMTP server); the secrets in the credentials file.
  const mail = await startMailServers();
  const emailWebchat = JSON.parse(fs.readFileSync(shipped.replace('continuity-basics.json', 'email-webchat-continuity.json'), 'utf8'));
  const webchatIn = emailWebchat.find((n) => n.type === 'omnithread-in' && n.channel === 'webchat');
  const emailIn = emailWebchat.find((n) => n.type === 'omnithread-email-in');
  Object.assign(emailIn, { host: mail.dovecot.host, port: String(mail.dovecot.port), secure: false, user: mail.dovecot.user, address: SUPPORT, interval: '2' });
  const smtpAccount = emailWebchat.find((n) => n.type === 'omnithread-channel' && n.channel === 'email');
  const deskNode = emailWebchat.find((n) => n.type === 'omnithread-desk');
  deskNode.adminAgentId = DESK_ADMIN.agentId;
  Object.assign(smtpAccount, { host: mail.smtp.host, port: String(mail.smtp.port), secure: false, user: mail.smtp.user, from: SUPPORT });
  // The AI routing example: its http request node posts packets to a local stand-in help desk.
  const helpdesk = await fakeWhatsApp();
  const routing = JSON.parse(fs.readFileSync(shipped.replace('continuity-basics.json', 'ai-routing.json'), 'utf8'));
  for (const n of routing) if (n.type === 'http request') n.url = `${helpdesk.base}/handoff`;
  const routingIn = routing.find((n) => n.type === 'omnithread-in');
  fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify([...flow, ...messaging, ...emailWebchat, ...routing]));
  fs.writeFileSync(
    path.join(userDir, 'flows_cred.json'),
    JSON.stringify({
      [whatsappIn.id]: { appSecret: APP_SECRET, verifyToken: 'e2e-verify' },
      [whatsappAccount.id]: { accessToken: 'e2e-wa-token' },
      [webchatIn.id]: { identitySecret: IDENTITY_SECRET },
      [emailIn.id]: { password: mail.dovecot.password },
      [smtpAccount.id]: { password: mail.smtp.password },
      [deskNode.id]: { adminPassword: DESK_ADMIN.password },
    }),
  );
  fs.writeFileSync(
    path.join(userDir, 'settings.js'),
    `module.exports = { flowFile: 'flows.json', credentialSecret: false, uiHost: '127.0.0.1', telemetry: { enabled: false }, editorTheme: { tours: false }, logging: { console: { level: 'info' } } };\n`,
  );
  const port = await freePort();
  const redJs = require.resolve('node-red/red.js', { paths: [root] });
  const red = start(process.execPath, [redJs, '--userDir', userDir, '--port', String(port), '--settings', path.join(userDir, 'settings.js')], {
    cwd: userDir,
    logDir,
    name: 'node-red',
    env: process.env,
  });
  try {
    await waitForHttp(`http://127.0.0.1:${port}/nodes`, red, 60000);
    const loaded = await (await fetch(`http://127.0.0.1:${port}/nodes`, { headers: { accept: 'application/json' } })).json();
    const ours = loaded.filter((set) => set.module === '@omnithread/n8n-nodes-omnithread');
    record('node-red: the installed package registers its node types', ours.flatMap((s) => s.types).length >= 4 && ours.every((s) => s.enabled && !s.err) ? [] : [`loaded: ${JSON.stringify(ours)}`]);
    const url = `http://127.0.0.1:${port}/${String(input.path).replace(/^\/+/, '')}`;
    log(`Node-RED is up; posting the story to ${url}`);
    await storyChecks('node-red', url, red);
    await hostileInputChecks('node-red', url);
    await messagingCheck('node-red', `http://127.0.0.1:${port}/${String(whatsappIn.path).replace(/^\/+/, '')}`, fake, red);
    await routingCheck('node-red', `http://127.0.0.1:${port}/${String(routingIn.path).replace(/^\/+/, '')}`, helpdesk, red);
    const pageUrl = `http://127.0.0.1:${port}/${String(webchatIn.path).replace(/^\/+/, '')}`;
    await emailWebchatStory({ engine: 'node-red', record, mail, pageUrl, identitySecret: IDENTITY_SECRET, child: red, emailWaitMs: 30_000 });
    await deskCheck({ engine: 'node-red', record, deskUrl: `http://127.0.0.1:${port}/${String(deskNode.path).replace(/^\/+/, '')}` });
  } finally {
    await stop(red);
    await fake.close();
    await helpdesk.close();
    await mail.close();
  }
}

/** The roster the n8n routing check needs, imported into the store before n8n starts (an admin's import). */
async function seedRoster(sqlitePath) {
  const { openStore, createOmnithread } = require(path.join(root, 'dist', 'shared'));
  fs.mkdirSync(path.dirname(sqlitePath), { recursive: true });
  const store = await openStore({ type: 'sqlite', path: sqlitePath });
  try {
    await createOmnithread({ store }).roster().import([
      { id: 'agent-a', name: 'Anna', kind: 'human', skills: { billing: 4 }, languages: ['en'] },
      { id: 'faq-bot', name: 'FAQ assistant', kind: 'ai', skills: { billing: 5 }, languages: ['en'], capacity: 1000 },
    ]);
  } finally {
    await store.close();
  }
}

/**
 * The AI routing template: a customer who asks for a person about an invoice is routed to a human (never
 * the AI agent), handed off, and the HandoffPacket reaches the help desk through the engine's own HTTP node.
 */
async function routingCheck(engine, url, helpdesk, child) {
  const name = `${engine}: ai-routing sends a request for a person to a human and posts the HandoffPacket to the help desk`;
  const tag = `${engine}-${Date.now().toString(36)}`;
  const text = 'My invoice is wrong again. I want to talk to a human, please.';
  const sent = await postJson(url, { messageId: `route-${tag}`, channel: 'email', from: { email: `route.${tag}@fastmail.fm` }, text });
  if (sent.status !== 200) return record(name, [`status ${sent.status}: ${sent.text.slice(0, 300)}`, child.tail(20)]);
  try {
    await until(() => helpdesk.received.length >= 1, 20000, 'the HandoffPacket at the help desk');
  } catch (error) {
    return record(name, [String(error.message), child.tail(30)]);
  }
  const packet = helpdesk.received[0].body || {};
  const problems = [];
  if (helpdesk.received[0].path !== '/handoff') problems.push(`posted to ${helpdesk.received[0].path}`);
  if (typeof packet.to !== 'string' || !/^agent-/.test(packet.to)) problems.push(`handed to ${JSON.stringify(packet.to)}, not a human agent`);
  if (typeof packet.transcript !== 'string' || !packet.transcript.includes('talk to a human')) problems.push('the transcript lacks the message');
  if (!packet.contact || !JSON.stringify(packet.contact.identities || []).includes(`route.${tag}@fastmail.fm`)) problems.push('the packet lacks the contact identities');
  if (!Array.isArray(packet.channelWindows)) problems.push('the packet lacks the channel windows');
  if (problems.length) problems.push(`packet: ${JSON.stringify(packet).slice(0, 600)}`);
  helpdesk.received.length = 0;
  record(name, problems);
}

/** The messaging template: a signed WhatsApp message is answered on WhatsApp, once, through the API. */
async function messagingCheck(engine, url, fake, child) {
  const name = `${engine}: messaging-continuity answers a signed WhatsApp message on WhatsApp, once`;
  const { body, signature } = whatsappDelivery(APP_SECRET, engine);
  const send = () => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature }, body });
  const first = await send();
  if (first.status !== 200) return record(name, [`status ${first.status}: ${(await first.text()).slice(0, 300)}`, child.tail(20)]);
  try {
    await until(() => fake.received.length >= 1, 20000, 'the reply to reach the WhatsApp API');
  } catch (error) {
    return record(name, [String(error.message), child.tail(30)]);
  }
  const second = await send(); // a redelivery: recognised, nothing sent again
  await new Promise((r) => setTimeout(r, 1500));
  const [sent] = fake.received;
  const problems = [];
  if (second.status !== 200) problems.push(`redelivery answered ${second.status}`);
  if (fake.received.length !== 1) problems.push(`${fake.received.length} calls to the WhatsApp API, expected 1`);
  if (sent.path !== '/v21.0/106540352242922/messages') problems.push(`path ${sent.path}`);
  if (sent.authorization !== 'Bearer e2e-wa-token') problems.push(`authorization ${sent.authorization}`);
  if (!sent.body || sent.body.to !== '447911123456' || sent.body.type !== 'text') problems.push(`body ${JSON.stringify(sent.body).slice(0, 300)}`);
  fake.received.length = 0;
  record(name, problems);
}

async function storyChecks(engine, url, child) {
  const tag = `${engine}-${Date.now().toString(36)}`;
  let last;
  for (const delivery of story(tag)) {
    // Webhooks are registered a moment after the server answers; retry a 404 briefly.
    for (let i = 0; i < 20; i++) {
      last = await postJson(url, delivery);
      if (last.status !== 404) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    if (last.status !== 200) {
      record(`${engine}: ${delivery.channel} delivery answered 200`, [`status ${last.status}: ${last.text.slice(0, 500)}`, child.tail(20)]);
      return;
    }
  }
  record(`${engine}: the story ends as one contact with one chronological timeline`, checkTimeline(last.json, tag));
  const malformed = await postJson(url, { from: { email: 'x@corp.io' } });
  record(`${engine}: a malformed body gets 400 naming the field`, malformed.status === 400 && /messageId/.test(malformed.text) ? [] : [`status ${malformed.status}: ${malformed.text.slice(0, 300)}`]);
}

/**
 * Hostile input at the trigger, as a real engine receives it: every one a 400 JSON answer naming the
 * problem (never 503, which providers retry forever), small, and storing nothing; too large a body a 413.
 */
async function hostileInputChecks(engine, url) {
  const post = async (body) => {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: response.status, text: await response.text(), type: response.headers.get('content-type') ?? '' };
  };
  const tag = `${engine}-${Date.now().toString(36)}`;
  // Two message ids that differ in one byte that is not UTF-8: decoded with replacement characters they
  // would be one id, and the second message would be acknowledged as a duplicate and lost.
  const withByte = (byte) =>
    Buffer.concat([Buffer.from(`{"messageId":"bad-${tag}-`), Buffer.from([byte]), Buffer.from(`","from":{"email":"utf8.${tag}@corp.io"},"text":"x"}`)]);
  const utf8 = [await post(withByte(0xff)), await post(withByte(0xfe))];
  record(
    `${engine}: bodies that are not UTF-8 are refused with 400, never taken as one message`,
    utf8.every((r) => r.status === 400 && /UTF-8/i.test(r.text)) ? [] : utf8.map((r) => `status ${r.status}: ${r.text.slice(0, 200)}`),
  );
  const nested = await post(`{"messageId":"deep-${tag}","from":{"email":"deep.${tag}@corp.io"},"text":"x","metadata":{"n":${'['.repeat(5000)}${']'.repeat(5000)}}}`);
  record(`${engine}: deep nesting is a 400 naming the limit (not a 503 retried forever)`, nested.status === 400 && /deep|depth|nest/i.test(nested.text) ? [] : [`status ${nested.status}: ${nested.text.slice(0, 300)}`]);
  const huge = await post(JSON.stringify({ messageId: `huge-${tag}`, from: { email: `huge.${tag}@corp.io` }, text: 'x', attachments: Array.from({ length: 40_000 }, () => ({ url: 'not a url' })) }));
  record(
    `${engine}: a 600 KB array of bad items gets a short 400 (the first problems and a count)`,
    (huge.status === 400 && huge.text.length < 8192) || huge.status === 413 ? [] : [`status ${huge.status}, ${huge.text.length} bytes: ${huge.text.slice(0, 200)}`],
  );
  if (engine === 'node-red') {
    // Over apiMaxLength (5 MB by default). n8n reads the body itself before any node runs and answers a
    // body over N8N_PAYLOAD_SIZE_MAX (16 MB) with a 500 of its own; the README says so.
    const tooLarge = await post(JSON.stringify({ messageId: `large-${tag}`, from: { email: `large.${tag}@corp.io` }, text: 'x'.repeat(6 * 1024 * 1024) }));
    record(`${engine}: a body over the engine's size limit is answered 413 with a JSON error`, tooLarge.status === 413 && tooLarge.type.includes('json') ? [] : [`status ${tooLarge.status}: ${tooLarge.text.slice(0, 200)}`]);
  }
  // A large valid delivery is taken and stored once.
  const big = await post(JSON.stringify({ messageId: `big-${tag}`, from: { email: `big.${tag}@corp.io` }, text: 'hello', metadata: { blob: 'y'.repeat(3 * 1024 * 1024) } }));
  // The template answers with the timeline, events with their data: a second copy of the body (the raw
  // payload beside the parsed message, as the generic channel once kept) would double the answer.
  record(
    `${engine}: a 3 MB delivery is recorded once, not twice`,
    big.status === 200 && big.text.length > 3 * 1024 * 1024 && big.text.length < 4.5 * 1024 * 1024
      ? []
      : [`status ${big.status}, answer ${big.text.length} bytes: ${big.text.slice(0, 200)}`],
  );
}

async function main() {
  const work = tempDir('pack');
  const logDir = tempDir('logs');
  const tgz = pack(work);
  log(`packed ${path.basename(tgz)}; logs in ${logDir}`);
  const only = process.argv[2];
  for (const [name, fn] of [
    ['n8n', n8nE2e],
    ['node-red', nodeRedE2e],
    ['queue', (file, dir) => queueModeE2e({ tgz: file, logDir: dir, record, install: installAsDocumented, ensureN8n })],
  ]) {
    if (only && only !== name) continue;
    try {
      await fn(tgz, logDir);
    } catch (error) {
      record(`${name}: end-to-end run`, [String(error && error.stack ? error.stack : error)]);
    }
  }
  const failed = results.filter((r) => !r.ok).length;
  console.log(`e2e: ${results.length - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main();
