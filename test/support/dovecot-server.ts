/**
 * A real Dovecot IMAP server for tests, from Debian's `dovecot-imapd` package (/usr/sbin/dovecot).
 *
 * Each call writes a throwaway configuration into a temp dir (base_dir, state, logs, the passwd-file and the
 * Maildirs all live there; /etc/dovecot is never read), listens on 127.0.0.1 on a free port with plain-text
 * IMAP (ssl = no) and runs `dovecot -F -c <config>` in the foreground until `stop()`.
 *
 * As root, Dovecot refuses to run mail processes as root: they run as `nobody` (the Maildir root is chown'ed
 * to it), logins as `dovenull` and internal processes as `dovecot` (users the package creates). As another
 * user, every process runs as that user and chroots are switched off.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';

export const DOVECOT_BINARY = '/usr/sbin/dovecot';

export interface DovecotServer {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Root of the Maildirs (the test user's is `<maildir>/<user>/Maildir`). */
  maildir: string;
  /** Stores a raw RFC 822 mail in a mailbox with IMAP APPEND; returns its UID. */
  /** APPENDs a mail; `internalDate` is the server's arrival time (IMAP INTERNALDATE), now by default. */
  append(raw: string | Buffer, mailbox?: string, internalDate?: Date): Promise<number | undefined>;
  /** An IMAP client logged in as the test user (the caller logs out). */
  client(): Promise<ImapFlow>;
  /** The flags of every mail in a mailbox, by UID (empty when it holds none). */
  flags(mailbox: string): Promise<Map<number, Set<string>>>;
  stop(): Promise<void>;
}

export interface TestMailOptions {
  /** The sender's address; null = no From header (a malformed mail). Default maya@fastmail.fm. */
  from?: string | null;
  subject?: string;
  body?: string;
  /** Makes the mail a reply: In-Reply-To and References. */
  inReplyTo?: string;
}

/** The Date of every test mail: suites that record answers to them run a clock starting just after it. */
export const TEST_MAIL_DATE = '2025-06-02T10:00:00Z';

/** A raw RFC 5322 mail from Maya to the support mailbox, as the IMAP suites append them. */
export function testMail(id: string, opts: TestMailOptions = {}): string {
  return [
    ...(opts.from === null ? [] : [`From: Maya Lind <${opts.from ?? 'maya@fastmail.fm'}>`]),
    'To: support@shop.io',
    `Subject: ${opts.subject ?? 'Order 1234'}`,
    `Message-ID: ${id}`,
    ...(opts.inReplyTo ? [`In-Reply-To: ${opts.inReplyTo}`, `References: ${opts.inReplyTo}`] : []),
    `Date: ${new Date(TEST_MAIL_DATE).toUTCString().replace('GMT', '+0000')}`,
    '',
    opts.body ?? `Hello, this is ${id}`,
    '',
  ].join('\r\n');
}

/**
 * `describe` when Dovecot can run here; otherwise `describe.skip` with a warning naming why, except under
 * CI (process.env.CI), where the suite runs and fails: CI must install dovecot-imapd.
 */
export function describeWithDovecot(what: string): jest.Describe {
  const missing = dovecotUnavailable();
  if (!missing || process.env.CI) return describe;
  console.warn(`Skipping ${what}: ${missing}`);
  return describe.skip;
}

/** Why Dovecot can not run here, or undefined when it can. */
export function dovecotUnavailable(): string | undefined {
  if (!existsSync(DOVECOT_BINARY)) return `${DOVECOT_BINARY} is missing: install Debian's dovecot-imapd (apt-get install -y dovecot-imapd)`;
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function startDovecot(): Promise<DovecotServer> {
  const missing = dovecotUnavailable();
  if (missing) throw new Error(missing);
  const root = userInfo().uid === 0;
  const base = mkdtempSync(join(tmpdir(), 'omnithread-dovecot-'));
  chmodSync(base, 0o755);
  const maildir = join(base, 'mail');
  mkdirSync(maildir, { mode: 0o755 });
  if (root) execFileSync('chown', ['nobody:nogroup', maildir]);
  const port = await freePort();
  const user = 'agent';
  const password = 'omnithread-imap-test';
  const me = userInfo().username;
  writeFileSync(join(base, 'users'), `${user}:{PLAIN}${password}::::::\n`);
  const logPath = join(base, 'dovecot.log');
  const config = [
    `instance_name = omnithread-${port}`,
    `base_dir = ${join(base, 'run')}`,
    `state_dir = ${join(base, 'state')}`,
    `log_path = ${logPath}`,
    `info_log_path = ${logPath}`,
    'protocols = imap',
    'listen = 127.0.0.1',
    'ssl = no',
    'disable_plaintext_auth = no',
    'auth_mechanisms = plain login',
    'auth_failure_delay = 0',
    `mail_location = maildir:${maildir}/%u/Maildir`,
    ...(root
      ? ['mail_uid = nobody', 'mail_gid = nogroup', 'first_valid_uid = 1', 'first_valid_gid = 1', 'default_internal_user = dovecot', 'default_login_user = dovenull']
      : [`default_internal_user = ${me}`, `default_login_user = ${me}`, `first_valid_uid = ${userInfo().uid}`, `first_valid_gid = ${userInfo().gid}`]),
    `passdb {\n  driver = passwd-file\n  args = scheme=PLAIN ${join(base, 'users')}\n}`,
    `userdb {\n  driver = passwd-file\n  args = ${join(base, 'users')}\n}`,
    'namespace inbox {\n  inbox = yes\n  separator = /\n}',
    `service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n    port = ${port}\n  }\n  inet_listener imaps {\n    port = 0\n  }${root ? '' : '\n  chroot ='}\n}`,
    ...(root ? [] : ['service anvil {\n  chroot =\n}', 'service stats {\n  chroot =\n}']),
    'service imap {\n  process_limit = 64\n}',
    '',
  ].join('\n');
  const configPath = join(base, 'dovecot.conf');
  writeFileSync(configPath, config);

  const output: string[] = [];
  const child: ChildProcess = spawn(DOVECOT_BINARY, ['-F', '-c', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d) => output.push(String(d)));
  child.stderr?.on('data', (d) => output.push(String(d)));
  let exited = false;
  child.once('exit', () => (exited = true));
  const log = (): string => [output.join(''), existsSync(logPath) ? readFileSync(logPath, 'utf8').split('\n').slice(-20).join('\n') : ''].join('\n');
  const deadline = Date.now() + 15_000;
  while (!(await canConnect(port))) {
    if (exited || Date.now() > deadline) {
      if (!exited) child.kill('SIGKILL');
      rmSync(base, { recursive: true, force: true });
      throw new Error(`Could not start the test Dovecot server on 127.0.0.1:${port}:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  const client = async (): Promise<ImapFlow> => {
    const c = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user, pass: password }, logger: false });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };
  return {
    host: '127.0.0.1',
    port,
    user,
    password,
    maildir,
    client,
    flags: async (mailbox) => {
      const c = await client();
      const out = new Map<number, Set<string>>();
      try {
        const box = await c.mailboxOpen(mailbox);
        if (box.exists) for await (const m of c.fetch('1:*', { uid: true, flags: true })) out.set(m.uid, m.flags ?? new Set());
      } finally {
        await c.logout();
      }
      return out;
    },
    append: async (raw, mailbox = 'INBOX', internalDate?: Date) => {
      const c = await client();
      try {
        const result = await c.append(mailbox, raw, [], internalDate);
        return result ? Number(result.uid) : undefined;
      } finally {
        await c.logout().catch(() => c.close());
      }
    },
    stop: async () => {
      if (!exited) {
        const done = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([done, new Promise((r) => setTimeout(r, 5000).unref())]);
        if (!exited) child.kill('SIGKILL');
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}
