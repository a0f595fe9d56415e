// n8n in queue mode, started here for real (test-e2e/queue-cluster.js): Redis, PostgreSQL for n8n's own
// database and for the Omnithread store, one main, one webhook processor and two workers, each with the
// packed package in its nodes folder. The messaging and the email and web chat templates are imported and
// published with an Omnithread Store credential on PostgreSQL.
// 1. Signed WhatsApp and Telegram deliveries from several people go to the webhook processor, with
//    concurrent duplicates (the same provider message id posted at once) and redeliveries later. Then, in
//    the store (opened with the package's own API): every acknowledged message recorded once (0 lost,
//    0 duplicated), one contact per person; at a local provider stand-in: each message answered exactly once,
//    by executions that ran on the workers (both of them).
// 2. A real Dovecot: mails appended before n8n starts and while it runs are each ingested once by the
//    Email Trigger, which only the main polls (none missed, none twice), and each answered once by SMTP.
// Exports queueModeE2e({ tgz, logDir, record, install, ensureN8n }), called by test-e2e/run.js;
// `node test-e2e/run.js queue` runs this part alone (after `npm run build`).
const fs = require('node:fs');
const path = require('node:path');
const { root, log, until, fixture, hubSignature, providerStandIn: standIn } = require('./lib');
const { cachedN8n, startRedis, startPostgresWith, startQueueCluster, waitForWebhook, stopper } = require('./queue-cluster');
const { DESK_ADMIN } = require('./desk');

const APP_SECRET = 'queue-e2e-whatsapp-app-secret';
const TELEGRAM_SECRET = 'queue-e2e-telegram-secret';
const TELEGRAM_BOT_ID = '123456789';
const TELEGRAM_BOT_TOKEN = '123456789:queue-e2e-bot-token';
const SUPPORT = 'support@example-store.io';
const OURS = '@omnithread/n8n-nodes-omnithread.';
const WHATSAPP_PEOPLE = 8;
const TELEGRAM_PEOPLE = 4;
const MESSAGES_PER_PERSON = 3;
const MAILS_BEFORE_START = 4;
const MAILS_WHILE_RUNNING = 4;

/**
 * A stand-in for the WhatsApp Cloud API and the Telegram Bot API: answers as they document and keeps
 * every call, so replies can be counted.
 */
function providerStandIn() {
  return standIn((call, calls) => {
    if (/^\/bot[^/]+\/sendMessage$/.test(call.path)) {
      return { ok: true, result: { message_id: 9000 + calls.length, chat: { id: call.body.chat_id }, date: Math.floor(Date.now() / 1000), text: call.body.text } };
    }
    if (/^\/bot/.test(call.path)) return { ok: true, result: true };
    return { messaging_product: 'whatsapp', messages: [{ id: `wamid.queue-e2e-out-${calls.length}` }] };
  });
}

/** The people and their messages: WhatsApp (signed with the app secret) and Telegram (secret token). */
function makeDeliveries(tag) {
  const whatsappFixture = fixture('whatsapp', 'text.json');
  const telegramFixture = fixture('telegram', 'text.json');
  const now = Math.floor(Date.now() / 1000) - 600;
  const people = [];
  for (let p = 0; p < WHATSAPP_PEOPLE; p++) {
    const waId = `4479111234${String(10 + p)}`;
    const bsuid = `GB.134912086553027${String(4000 + p)}`;
    const person = { channel: 'whatsapp', name: `WhatsApp person ${p}`, handle: { kind: 'phone', value: `+${waId}` }, to: waId, messages: [] };
    for (let k = 0; k < MESSAGES_PER_PERSON; k++) {
      const fixture = JSON.parse(whatsappFixture);
      const value = fixture.entry[0].changes[0].value;
      Object.assign(value.contacts[0], { wa_id: waId, user_id: bsuid, profile: { name: `Queue Person W${p}` } });
      const message = value.messages[0];
      Object.assign(message, { from: waId, from_user_id: bsuid, id: `wamid.queue-${tag}-w${p}-${k}`, timestamp: String(now + p * 10 + k * 100), text: { body: `Message ${k} from W${p}: where is my order?` } });
      const body = JSON.stringify(fixture);
      person.messages.push({ id: message.id, body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': hubSignature(APP_SECRET, body) } });
    }
    people.push(person);
  }
  for (let p = 0; p < TELEGRAM_PEOPLE; p++) {
    const userId = 5100000000 + p;
    const person = { channel: 'telegram', name: `Telegram person ${p}`, handle: { kind: 'telegram_user', scope: TELEGRAM_BOT_ID, value: String(userId) }, to: userId, messages: [] };
    for (let k = 0; k < MESSAGES_PER_PERSON; k++) {
      const update = JSON.parse(telegramFixture);
      update.update_id = 815600000 + p * 100 + k;
      const from = { id: userId, is_bot: false, first_name: 'Queue', last_name: `Person T${p}`, username: `queue_${tag.replace(/[^a-z0-9]/gi, '')}_t${p}`, language_code: 'en' };
      Object.assign(update.message, { message_id: 700 + k, from, chat: { ...from, type: 'private' }, date: now + p * 10 + k * 100, text: `Message ${k} from T${p}: can I change my address?` });
      person.messages.push({ id: `${userId}:${700 + k}`, body: JSON.stringify(update), headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': TELEGRAM_SECRET } });
    }
    people.push(person);
  }
  return people;
}

function mail(from, messageId, subject) {
  return [
    `From: Queue Mail <${from}>`,
    `To: ${SUPPORT}`,
    `Subject: ${subject}`,
    `Message-ID: ${messageId}`,
    `Date: ${new Date().toUTCString()}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Hello, this is ${subject}.`,
    '',
  ].join('\r\n');
}

/** The templates as an admin leaves them for queue mode: every Omnithread node on the PostgreSQL store. */
function templates({ provider, storeCred }) {
  const read = (name) => JSON.parse(fs.readFileSync(path.join(root, 'workflows', 'n8n', `${name}.json`), 'utf8'));
  const messaging = read('messaging-continuity');
  const emailWebchat = read('email-webchat-continuity');
  for (const workflow of [messaging, emailWebchat]) {
    for (const n of workflow.nodes) if (n.type.startsWith(OURS)) n.credentials = { ...n.credentials, omnithreadStoreApi: storeCred };
  }
  for (const n of messaging.nodes) {
    if (n.name === 'WhatsApp') n.parameters = { ...n.parameters, appSecret: APP_SECRET, verifyToken: 'queue-e2e-verify' };
    if (n.name === 'Telegram') n.parameters = { ...n.parameters, botId: TELEGRAM_BOT_ID, secretToken: TELEGRAM_SECRET };
    if (n.name === 'Reply') n.credentials = { ...n.credentials, omnithreadWhatsAppApi: { id: 'qWhatsAppCred001', name: 'Queue WhatsApp' }, omnithreadTelegramApi: { id: 'qTelegramCred001', name: 'Queue Telegram' } };
  }
  for (const n of emailWebchat.nodes) {
    if (n.name === 'Web Chat') n.parameters = { ...n.parameters, identitySecret: 'queue-e2e-identity-secret' };
    if (n.name === 'Email') n.credentials = { ...n.credentials, omnithreadImapApi: { id: 'qImapCred0000001', name: 'Queue IMAP' } };
    if (n.name === 'Reply') n.credentials = { ...n.credentials, omnithreadSmtpApi: { id: 'qSmtpCred0000001', name: 'Queue SMTP' } };
    if (n.name === 'Omnithread Desk') n.credentials = { ...n.credentials, omnithreadDeskApi: { id: 'qDeskAdmin000001', name: 'Queue Desk Admin' } };
  }
  const hook = (name) => messaging.nodes.find((n) => n.name === name).webhookId;
  return { messaging, emailWebchat, hooks: { whatsapp: hook('WhatsApp'), telegram: hook('Telegram') }, provider };
}

/** Posts deliveries with at most `limit` requests in flight; each answer kept with its delivery. */
async function postAll(items, limit) {
  const answers = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      const { url, delivery } = items[i];
      const t0 = performance.now();
      try {
        const response = await fetch(url, { method: 'POST', headers: delivery.headers, body: delivery.body, signal: AbortSignal.timeout(60000) });
        answers[i] = { status: response.status, text: await response.text(), ms: performance.now() - t0 };
      } catch (error) {
        answers[i] = { status: 0, text: String(error.message), ms: performance.now() - t0 };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return answers;
}

const stripBrackets = (id) => String(id || '').replace(/^<|>$/g, '');

async function queueModeE2e({ tgz, logDir, record, install, ensureN8n }) {
  const started = Date.now();
  const elapsed = () => `at ${((Date.now() - started) / 1000).toFixed(0)} s`;
  const bin = ensureN8n ? ensureN8n() : cachedN8n();
  const cleanup = stopper();
  const tag = Date.now().toString(36);
  try {
    const provider = await providerStandIn();
    cleanup.add(provider.close);
    const { startDovecot } = require('../test/support/dovecot-server.ts');
    const { startSmtpCapture } = require('../test/support/smtp-capture.ts');
    const servers = await Promise.allSettled([startRedis({ logDir }), startPostgresWith(['n8n', 'omnithread']), startDovecot(), startSmtpCapture('agent', 'queue-smtp-password')]);
    for (const s of servers) if (s.status === 'fulfilled') cleanup.add(s.value.close || s.value.stop);
    const failed = servers.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    const [redis, pg, dovecot, smtp] = servers.map((s) => s.value);
    const storeUrl = pg.urlOf('omnithread');

    const storeCred = { id: 'qStorePostgres01', name: 'Queue Store (PostgreSQL)' };
    const { messaging, emailWebchat, hooks } = templates({ provider, storeCred });
    const credentials = [
      { ...storeCred, type: 'omnithreadStoreApi', data: { storeType: 'postgres', postgresUrl: storeUrl, workspace: 'default', poolSize: 5 } },
      { id: 'qWhatsAppCred001', name: 'Queue WhatsApp', type: 'omnithreadWhatsAppApi', data: { accessToken: 'queue-wa-token', phoneNumberId: '', apiVersion: 'v21.0', apiBaseUrl: provider.base } },
      { id: 'qTelegramCred001', name: 'Queue Telegram', type: 'omnithreadTelegramApi', data: { botToken: TELEGRAM_BOT_TOKEN, apiBaseUrl: provider.base } },
      { id: 'qImapCred0000001', name: 'Queue IMAP', type: 'omnithreadImapApi', data: { host: dovecot.host, port: String(dovecot.port), secure: false, user: dovecot.user, password: dovecot.password, allowUnauthorizedCerts: false } },
      { id: 'qSmtpCred0000001', name: 'Queue SMTP', type: 'omnithreadSmtpApi', data: { host: smtp.host, port: String(smtp.port), secure: false, user: smtp.user, password: smtp.password, from: SUPPORT, fromName: 'Example Store' } },
      { id: 'qDeskAdmin000001', name: 'Queue Desk Admin', type: 'omnithreadDeskApi', data: { adminAgentId: DESK_ADMIN.agentId, adminPassword: DESK_ADMIN.password } },
    ];

    // Mails already waiting when n8n starts: the main's first poll, at activation, takes them.
    const mails = [];
    const appendMails = async (count, phase) => {
      for (let i = 0; i < count; i++) {
        const n = mails.length;
        const entry = { from: `queue.mail${n}.${tag}@fastmail.fm`, messageId: `<queue-${tag}-${n}@fastmail.fm>`, subject: `Order ${5500 + n} (${phase})` };
        mails.push(entry);
        await dovecot.append(mail(entry.from, entry.messageId, entry.subject));
      }
    };
    await appendMails(MAILS_BEFORE_START, 'before start');

    const cluster = await startQueueCluster({
      bin,
      tgz,
      logDir,
      pg,
      redis,
      credentials,
      workflows: [messaging, emailWebchat],
      publish: [messaging.id, emailWebchat.id],
      workers: 2,
      install: install && ((dir, file) => install('n8n queue mode (main)', dir, file)),
    });
    cleanup.add(cluster.stop);
    record(
      `n8n queue mode: main, webhook processor and 2 workers ready on Redis and PostgreSQL in ${cluster.readySeconds.toFixed(0)} s, the package installed in each process's nodes folder (${cluster.installedCounts.join('/')} packages)`,
      [],
    );

    log(`queue cluster ready ${elapsed()}`);
    // Mails arriving while n8n runs: a later poll of the main takes them.
    await appendMails(MAILS_WHILE_RUNNING, 'while running');
    const mailsAppendedAt = Date.now();

    const url = (channel) => `${cluster.webhookBase}/webhook/${hooks[channel]}/webhook`;
    await waitForWebhook(url('whatsapp'), cluster);
    await waitForWebhook(url('telegram'), cluster, 30000, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });

    // 1. Messaging: each person's messages in order, all people at once; some posted three times at
    //    once (concurrent duplicates), then some delivered again later (redeliveries).
    const people = makeDeliveries(tag);
    const distinct = people.reduce((s, p) => s + p.messages.length, 0);
    const answers = [];
    let concurrentCopies = 0;
    for (let k = 0; k < MESSAGES_PER_PERSON; k++) {
      const items = [];
      people.forEach((person, p) => {
        const delivery = person.messages[k];
        const copies = (p + k) % 3 === 0 ? 3 : 1;
        concurrentCopies += copies - 1;
        for (let c = 0; c < copies; c++) items.push({ url: url(person.channel), delivery, person, k });
      });
      const got = await postAll(items, items.length);
      got.forEach((a, i) => answers.push({ ...a, item: items[i] }));
    }
    const expectedReplies = distinct;
    let waited = true;
    try {
      await until(() => provider.calls.length >= expectedReplies, 90000, `${expectedReplies} replies at the provider stand-in`);
    } catch {
      waited = false;
    }
    const redeliveryItems = [];
    people.forEach((person) => person.messages.forEach((delivery, k) => k % 2 === 0 && redeliveryItems.push({ url: url(person.channel), delivery, person, k })));
    const redelivered = await postAll(redeliveryItems, 8);
    redelivered.forEach((a, i) => answers.push({ ...a, item: redeliveryItems[i], redelivery: true }));
    await new Promise((r) => setTimeout(r, 4000)); // time for any wrongly started second execution to send

    const requests = answers.length;
    const not200 = answers.filter((a) => a.status !== 200);
    const slowest = Math.max(...answers.map((a) => a.ms));
    log(`deliveries done ${elapsed()}; slowest answer ${slowest.toFixed(0)} ms; first answers: ${answers.slice(0, 3).map((a) => a.text.slice(0, 120)).join(' | ')}`);
    record(
      `n8n queue mode: ${requests} signed deliveries at the webhook processor (${distinct} messages from ${people.length} people on WhatsApp and Telegram, ${concurrentCopies} concurrent duplicates, ${redeliveryItems.length} redeliveries) all answered 200 (slowest in ${(slowest / 1000).toFixed(1)} s)`,
      not200.length ? [`${not200.length} not 200: ${not200.slice(0, 5).map((a) => `${a.status} ${a.text.slice(0, 200)}`).join(' | ')}`, cluster.tail()] : [],
    );

    // 2. The IMAP poll: every mail ingested, by the next poll after it arrived (n8n polls once a minute).
    const expectedMails = mails.length;
    let mailsOk = true;
    try {
      await until(() => smtp.mails.length >= expectedMails, Math.max(10000, 75000 - (Date.now() - mailsAppendedAt)), `${expectedMails} SMTP replies`);
    } catch {
      mailsOk = false;
    }
    await new Promise((r) => setTimeout(r, 2000));
    log(`mails answered ${elapsed()}`);

    // 3. The store, opened with the package's own API.
    const { openStore, createOmnithread } = require(path.join(root, 'dist', 'shared'));
    const store = await openStore({ type: 'postgres', connectionString: storeUrl });
    try {
      const omni = createOmnithread({ store });
      const lost = [];
      const doubled = [];
      const contactProblems = [];
      const replyProblems = [];
      const contactIds = new Set();
      for (const person of people) {
        const contact = await omni.findContact(person.handle);
        if (!contact) {
          contactProblems.push(`${person.name}: no contact for ${JSON.stringify(person.handle)}`);
          lost.push(...person.messages.map((m) => m.id));
          continue;
        }
        contactIds.add(contact.id);
        const page = await omni.timeline(contact.id, { limit: 1000 });
        const inbound = page.events.filter((e) => e.kind === 'message' && e.direction === 'inbound');
        const outbound = page.events.filter((e) => e.kind === 'message' && e.direction === 'outbound');
        for (const m of person.messages) {
          const n = inbound.filter((e) => e.providerMessageId === m.id).length;
          if (n === 0) lost.push(m.id);
          if (n > 1) doubled.push(`${m.id} x${n}`);
        }
        if (inbound.length !== person.messages.length) contactProblems.push(`${person.name}: ${inbound.length} inbound messages on the contact, expected ${person.messages.length}`);
        if (outbound.length !== person.messages.length) replyProblems.push(`${person.name}: ${outbound.length} replies on the timeline, expected ${person.messages.length}`);
        const calls = provider.calls.filter((c) => c.body && String(person.channel === 'whatsapp' ? c.body.to : c.body.chat_id) === String(person.to)).length;
        if (calls !== person.messages.length) replyProblems.push(`${person.name}: ${calls} provider calls, expected ${person.messages.length}`);
      }
      // Every row, whoever wrote it: nothing beyond these people and these messages.
      const totals = await store.driver.read(async (db) => ({
        contacts: Number((await db.get("SELECT COUNT(*) AS n FROM contacts WHERE workspace = 'default' AND merged_into IS NULL")).n),
        inbound: await db.all("SELECT channel, provider_message_id AS id, COUNT(*) AS n FROM events WHERE workspace = 'default' AND kind = 'message' AND direction = 'inbound' GROUP BY channel, provider_message_id"),
      }));
      const messagingRows = totals.inbound.filter((r) => r.channel !== 'email');
      // What the trigger answered: exactly one copy of each message "recorded", every other one a duplicate.
      const said = answers.map((a) => {
        try {
          return JSON.parse(a.text);
        } catch {
          return {};
        }
      });
      const saidRecorded = said.reduce((s, b) => s + (Number(b.recorded) || 0), 0);
      const saidDuplicates = said.reduce((s, b) => s + (Number(b.duplicates) || 0), 0);
      const extra = messagingRows.filter((r) => !people.some((p) => p.messages.some((m) => m.id === r.id)));
      const rowDoubles = totals.inbound.filter((r) => Number(r.n) > 1);
      record(
        `n8n queue mode: every acknowledged message recorded exactly once in the PostgreSQL store: ${messagingRows.length} inbound events for ${distinct} messages, ${lost.length} lost, ${doubled.length + rowDoubles.length} duplicated; the trigger answered ${saidRecorded} "recorded" and ${saidDuplicates} "duplicates"`,
        [
          ...(lost.length ? [`lost: ${lost.slice(0, 10).join(', ')}`] : []),
          ...(doubled.length ? [`duplicated: ${doubled.slice(0, 10).join(', ')}`] : []),
          ...(rowDoubles.length ? [`duplicate rows: ${JSON.stringify(rowDoubles.slice(0, 5))}`] : []),
          ...(extra.length ? [`unexpected events: ${JSON.stringify(extra.slice(0, 5))}`] : []),
          ...(messagingRows.length !== distinct ? [`${messagingRows.length} messaging events, expected ${distinct}`] : []),
          ...(saidRecorded !== distinct || saidDuplicates !== requests - distinct ? [`the trigger answered "recorded" ${saidRecorded} times and "duplicates" ${saidDuplicates} times for ${distinct} messages in ${requests} deliveries`] : []),
        ],
      );
      const expectedContacts = people.length + mails.length;
      record(
        `n8n queue mode: one contact per person: ${contactIds.size} contacts for ${people.length} messaging people (${totals.contacts} in the store with the ${mails.length} mail senders, expected ${expectedContacts})`,
        [...contactProblems, ...(contactIds.size !== people.length ? [`${contactIds.size} distinct contacts for ${people.length} people`] : []), ...(totals.contacts !== expectedContacts ? [`${totals.contacts} contacts in the store`] : [])],
      );
      const perWorker = cluster.workers.map((w) => (fs.readFileSync(w.logFile, 'utf8').match(/Worker started execution/g) || []).length);
      const onOthers = ['main', 'webhook'].map((n) => (fs.readFileSync(cluster.processes[n].logFile, 'utf8').match(/Worker started execution/g) || []).length);
      record(
        `n8n queue mode: each message answered exactly once across the workers: ${provider.calls.length} provider calls for ${expectedReplies} messages (${requests} deliveries); executions per worker ${perWorker.join(' / ')}`,
        [
          ...(waited ? [] : [`only ${provider.calls.length} of ${expectedReplies} replies within 90 s`, cluster.tail()]),
          ...(provider.calls.length !== expectedReplies ? [`${provider.calls.length} provider calls, expected ${expectedReplies}`] : []),
          ...replyProblems,
          ...(perWorker.some((n) => n === 0) ? [`a worker ran no execution (${perWorker.join(' / ')}): the load was not shared`] : []),
          ...(onOthers.some((n) => n > 0) ? [`executions ran on the main or the webhook processor (${onOthers.join(' / ')})`] : []),
        ],
      );

      // The mails: each ingested once (by Message-ID), none missed; each answered once by SMTP.
      const emailRows = totals.inbound.filter((r) => r.channel === 'email');
      const mailProblems = [];
      for (const m of mails) {
        const rows = emailRows.filter((r) => stripBrackets(r.id) === stripBrackets(m.messageId));
        const n = rows.reduce((s, r) => s + Number(r.n), 0);
        if (n !== 1) mailProblems.push(`${m.messageId} (${m.subject}) recorded ${n} times`);
        const replies = smtp.mails.filter((s) => s.mail.inReplyTo === m.messageId).length;
        if (replies !== 1) mailProblems.push(`${m.messageId}: ${replies} SMTP replies`);
      }
      if (emailRows.length !== mails.length) mailProblems.push(`${emailRows.length} email events, expected ${mails.length}`);
      if (smtp.mails.length !== mails.length) mailProblems.push(`${smtp.mails.length} SMTP replies in all, expected ${mails.length}`);
      if (!mailsOk) mailProblems.push(`not every mail answered within the wait`, cluster.tail());
      record(
        `n8n queue mode: the IMAP poller runs once across processes: ${mails.length} mails (${MAILS_BEFORE_START} before start, ${MAILS_WHILE_RUNNING} while running), ${emailRows.reduce((s, r) => s + Number(r.n), 0)} ingested, each once, none missed; ${smtp.mails.length} SMTP replies`,
        mailProblems,
      );
    } finally {
      await store.close();
    }
  } finally {
    await cleanup.run();
    log(`n8n queue mode part took ${((Date.now() - started) / 1000).toFixed(0)} s, stopped and cleaned up`);
  }
}

module.exports = { queueModeE2e, providerStandIn };
