// Helpers for the end-to-end run against a real n8n and a real Node-RED (plain Node, no test framework:
// these are whole programs started as a user would start them).
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');

function log(...args) {
  console.log('[e2e]', ...args);
}

function run(command, args, options = {}) {
  log('$', command, args.join(' '));
  return execFileSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...options });
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts a long-running program; its output goes to a log file so a failure can show it. */
function start(command, args, options) {
  const logFile = path.join(options.logDir, `${options.name}.log`);
  const out = fs.openSync(logFile, 'w');
  const child = spawn(command, args, { ...options, stdio: ['ignore', out, out], detached: false });
  child.logFile = logFile;
  child.tail = (lines = 40) => fs.readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
  return child;
}

async function stop(child) {
  if (!child || child.exitCode !== null) return;
  await new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function waitForHttp(url, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the process exited (${child.exitCode}) before ${url} answered:\n${child.tail()}`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000}s:\n${child.tail()}`);
}

/** fetch, then the answer: { status, text, json (undefined when the text is not JSON), headers }. */
async function fetchAnswer(url, options) {
  const response = await fetch(url, options);
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json, headers: response.headers };
}

const postJson = (url, body) => fetchAnswer(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** npm pack of this package (after `npm run build`): what a user installs. */
function pack(dir) {
  const output = run('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: root });
  const file = output.trim().split('\n').pop();
  return path.join(dir, file);
}

/** The product's story: the same person on web chat, then email, then the phone. */
function story(tag) {
  const day = 24 * 3600 * 1000;
  const start = Date.parse('2026-11-20T09:00:00Z');
  return [
    {
      messageId: `chat-${tag}`,
      channel: 'webchat',
      account: 'shop',
      sentAt: new Date(start).toISOString(),
      from: { name: 'Maya Lindqvist', email: 'maya.lindqvist@fastmail.fm', handles: [{ kind: 'webchat_visitor', scope: 'shop', value: `visitor-${tag}`, trust: 'channel' }] },
      text: 'Hi, my parcel #5521 never arrived.',
    },
    {
      messageId: `<mail-${tag}@fastmail.fm>`,
      channel: 'email',
      account: 'support@shop.io',
      sentAt: new Date(start + day).toISOString(),
      from: { email: 'maya.lindqvist@fastmail.fm' },
      text: 'Following up on my chat: still no parcel.',
    },
    {
      messageId: `call-${tag}`,
      channel: 'voice',
      account: '+442071838750',
      sentAt: new Date(start + day + 3600 * 1000).toISOString(),
      from: { phone: '+447911123456', email: 'maya.lindqvist@fastmail.fm' },
      text: 'Phone call: customer asks for a refund for #5521.',
    },
  ];
}

/** Checks a timeline response: one contact with every identity, three messages in order. */
function checkTimeline(body, tag) {
  const problems = [];
  if (!body || !body.contact) return [`no contact in the response: ${JSON.stringify(body).slice(0, 500)}`];
  const values = (body.contact.identities || []).map((i) => i.value).sort();
  const expected = ['+447911123456', 'maya.lindqvist@fastmail.fm', `visitor-${tag}`].sort();
  if (JSON.stringify(values) !== JSON.stringify(expected)) problems.push(`identities ${JSON.stringify(values)}, expected ${JSON.stringify(expected)}`);
  const messages = (body.events || []).filter((e) => e.kind === 'message');
  const channels = messages.map((e) => e.channel);
  if (JSON.stringify(channels) !== JSON.stringify(['webchat', 'email', 'voice'])) problems.push(`message channels ${JSON.stringify(channels)}, expected webchat, email, voice`);
  const ids = new Set(messages.map((e) => e.contactId));
  if (messages.length && (ids.size !== 1 || !ids.has(body.contact.id))) problems.push(`messages belong to ${[...ids].join(', ')}, not only ${body.contact.id}`);
  return problems;
}

/**
 * A stand-in for a provider's API on this machine: keeps every call ({ method, path, authorization, body },
 * the body parsed when it is JSON) in `calls` and answers 200 with the JSON `answer(call, calls)` gives.
 */
async function providerStandIn(answer) {
  const http = require('node:http');
  const calls = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      let body;
      try {
        body = JSON.parse(raw || '{}');
      } catch {
        body = raw;
      }
      const call = { method: req.method, path: req.url, authorization: req.headers.authorization, body };
      calls.push(call);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer(call, calls)));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return { base, calls, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** The WhatsApp Cloud API's stand-in: records what the Reply node sends (`received`) and answers as Meta documents it. */
async function fakeWhatsApp() {
  const { base, calls, close } = await providerStandIn((_call, calls) => ({ messaging_product: 'whatsapp', messages: [{ id: `wamid.e2e-${calls.length}` }] }));
  return { base, received: calls, close };
}

/** A fixture of test/channels/fixtures (the providers' documented deliveries), as text. */
const fixture = (...names) => fs.readFileSync(path.join(root, 'test', 'channels', 'fixtures', ...names), 'utf8');

/** X-Hub-Signature-256 (Meta): sha256= and the hex HMAC-SHA256 of the raw body with the app secret. */
function hubSignature(appSecret, body) {
  const { createHmac } = require('node:crypto');
  return `sha256=${createHmac('sha256', appSecret).update(body).digest('hex')}`;
}

/** A signed WhatsApp delivery (the documented text fixture, sent a minute ago). */
function whatsappDelivery(appSecret, tag) {
  const fixtureJson = JSON.parse(fixture('whatsapp', 'text.json'));
  const message = fixtureJson.entry[0].changes[0].value.messages[0];
  message.timestamp = String(Math.floor(Date.now() / 1000) - 60);
  message.id = `wamid.e2e-inbound-${tag}`;
  const body = JSON.stringify(fixtureJson);
  return { body, signature: hubSignature(appSecret, body) };
}

async function until(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function tempDir(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `omnithread-e2e-${name}-`));
  fs.chmodSync(dir, 0o755);
  return dir;
}

module.exports = { root, log, run, freePort, start, stop, waitForHttp, fetchAnswer, postJson, pack, story, checkTimeline, tempDir, providerStandIn, fakeWhatsApp, fixture, hubSignature, whatsappDelivery, until };
