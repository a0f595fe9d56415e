/**
 * A real SMTP server (smtp-server) on a loopback port that keeps every mail it accepts, parsed with
 * mailparser, so tests see exactly what a reply put on the wire (From, Subject, In-Reply-To, References).
 * Plain SMTP with AUTH PLAIN/LOGIN for one user, as a local relay would be.
 */
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import type { ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface SmtpCapture {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Every mail accepted so far, in order. */
  mails: { envelope: { from: string; to: string[] }; mail: ParsedMail; raw: string }[];
  /** Resolves once `count` mails have arrived (rejects after timeoutMs). */
  waitFor(count: number, timeoutMs?: number): Promise<SmtpCapture['mails']>;
  close(): Promise<void>;
}

export async function startSmtpCapture(user = 'agent', password = 'smtp-test-password'): Promise<SmtpCapture> {
  const mails: SmtpCapture['mails'] = [];
  const waiters: (() => void)[] = [];
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === user && auth.password === password) return callback(null, { user });
      return callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        simpleParser(raw).then(
          (mail) => {
            const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
            mails.push({ envelope: { from, to: session.envelope.rcptTo.map((r) => r.address) }, mail, raw });
            waiters.splice(0).forEach((w) => w());
            callback();
          },
          (error: Error) => callback(error),
        );
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  const waitFor = (count: number, timeoutMs = 10_000) =>
    new Promise<SmtpCapture['mails']>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`expected ${count} mail(s) on the SMTP server, got ${mails.length}`)), timeoutMs);
      const check = () => {
        if (mails.length >= count) {
          clearTimeout(timer);
          resolve(mails);
        } else waiters.push(check);
      };
      check();
    });
  return { host: '127.0.0.1', port, user, password, mails, waitFor, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
