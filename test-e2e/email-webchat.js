// The email and web chat story in a real engine (n8n or Node-RED), with real parts on this machine: the
// widget served by the engine's trigger, driven in Debian's Chromium (playwright-core, never a downloaded
// browser); a real Dovecot IMAP server (Debian's dovecot-imapd, started by test/support/dovecot-server.ts)
// and a real SMTP server that captures the replies (test/support/smtp-capture.ts), both loaded with Node
// 24's type stripping.
//
// 1. A signed-in visitor (verified email, user hash) chats on the widget page the trigger serves; the
//    template's Reply answers in the widget; after a reload the history is still there.
// 2. The same person emails from that address (appended to the Dovecot inbox the Email Trigger polls); the
//    template answers by SMTP: the reply threads (In-Reply-To, References, Re:) and names the web chat.
const { createHmac } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { log, tempDir, until } = require('./lib');

const CHROMIUM = '/usr/bin/chromium';

/** Dovecot and an SMTP server that keeps every mail it is given. */
async function startMailServers() {
  const { startDovecot, dovecotUnavailable } = require('../test/support/dovecot-server.ts');
  const missing = dovecotUnavailable();
  if (missing) throw new Error(missing);
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  const dovecot = await startDovecot();
  // The same capturing SMTP server the jest suites use (a login is required, as a real relay would).
  const { startSmtpCapture } = require('../test/support/smtp-capture.ts');
  const smtp = await startSmtpCapture();
  return {
    dovecot,
    smtp,
    close: async () => {
      await smtp.close();
      await dovecot.stop();
    },
  };
}

const userHash = (secret, email) => createHmac('sha256', secret).update(email, 'utf8').digest('hex');

/**
 * The web chat part in Chromium: opens the trigger's own demo page as a signed-in visitor, sends a
 * message, waits for the template's answer, reloads and reads the history again.
 */
async function chatInBrowser({ pageUrl, email, identitySecret, text, answer, screenshot }) {
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
  const problems = [];
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 640 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // What the customer's own site does for a signed-in user: its server signs the email.
    await page.addInitScript((user) => {
      window.OmnithreadChat = { user };
    }, { email, name: 'Maya Lindqvist', userHash: userHash(identitySecret, email) });
    await page.goto(pageUrl);
    await page.locator('[data-omnithread-chat] > button').click();
    await page.getByLabel('Message').fill(text);
    await page.getByLabel('Message').press('Enter');
    const reply = page.locator('[data-direction="outbound"]').first();
    await reply.waitFor({ timeout: 30000 });
    const replyText = await reply.textContent();
    if (!answer.test(replyText)) problems.push(`the widget shows the answer ${JSON.stringify(replyText)}`);
    const identity = await page.locator('[data-omnithread-identity]').getAttribute('data-omnithread-identity');
    if (identity !== 'verified') problems.push(`the widget says the identity is ${identity}, not verified`);
    await page.reload();
    await page.locator('[data-omnithread-chat] > button').click();
    await page.locator('[data-direction="outbound"]').first().waitFor({ timeout: 15000 });
    const history = await page.locator('[data-omnithread-messages] [data-direction]').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-direction')));
    if (history.join(',') !== 'inbound,outbound') problems.push(`after a reload the widget shows ${history.join(',')}`);
    if (errors.length) problems.push(`page errors: ${errors.join('; ')}`);
    if (screenshot) await page.screenshot({ path: screenshot });
  } catch (error) {
    problems.push(String(error.message || error));
  } finally {
    await browser.close();
  }
  return problems;
}

/** The email part: a mail from the chat's address lands in the polled inbox; the reply must thread. */
async function emailAndCheckReply({ mail, from, tag, waitMs }) {
  const messageId = `<e2e-${tag}@fastmail.fm>`;
  const subject = `Parcel for order 5521 (${tag})`;
  const raw = [
    `From: Maya Lindqvist <${from}>`,
    'To: support@example-store.io',
    `Subject: ${subject}`,
    `Message-ID: ${messageId}`,
    `Date: ${new Date().toUTCString()}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Following up on the chat: still no parcel.',
    '',
  ].join('\r\n');
  const before = mail.smtp.mails.length;
  await mail.dovecot.append(raw);
  const problems = [];
  try {
    await until(() => mail.smtp.mails.length > before, waitMs, 'the reply mail on the SMTP server');
  } catch (error) {
    return [String(error.message)];
  }
  const reply = mail.smtp.mails[mail.smtp.mails.length - 1].mail;
  const to = reply.to && reply.to.value && reply.to.value[0] && reply.to.value[0].address;
  if (to !== from) problems.push(`the reply went to ${to}`);
  if (reply.inReplyTo !== messageId) problems.push(`In-Reply-To is ${reply.inReplyTo}, expected ${messageId}`);
  const references = [].concat(reply.references || []);
  if (!references.includes(messageId)) problems.push(`References ${JSON.stringify(references)} lack ${messageId}`);
  if (reply.subject !== `Re: ${subject}`) problems.push(`Subject is ${JSON.stringify(reply.subject)}`);
  if (!/web ?chat/i.test(reply.text || '')) problems.push(`the reply does not mention the web chat: ${JSON.stringify((reply.text || '').slice(0, 300))}`);
  return problems;
}

/** Runs both parts and records two checks for the engine. */
async function emailWebchatStory({ engine, record, mail, pageUrl, identitySecret, child, emailWaitMs }) {
  const tag = `${engine}-${Date.now().toString(36)}`;
  const email = `maya.${tag}@fastmail.fm`;
  const shots = tempDir(`${engine}-shots`);
  const chat = await chatInBrowser({
    pageUrl,
    email,
    identitySecret,
    text: `Hi, order 5521 (${tag}) says delivered but nothing arrived.`,
    answer: /./,
    screenshot: path.join(shots, 'webchat.png'),
  });
  record(`${engine}: web chat: a verified visitor chats on the widget the trigger serves, gets the answer, and keeps the history after a reload`, chat.length ? [...chat, child.tail(20)] : []);
  log(`${engine}: emailing from ${email}; the Email Trigger polls the Dovecot inbox`);
  const reply = await emailAndCheckReply({ mail, from: email, tag, waitMs: emailWaitMs });
  record(`${engine}: an email from the chat's address is the same person: the reply mail threads and names the web chat`, reply.length ? [...reply, child.tail(30)] : []);
}

module.exports = { startMailServers, emailWebchatStory };
