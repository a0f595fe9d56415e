/**
 * omnithread-email-in: reads a support mailbox over IMAP on an interval and sends one msg per newly
 * recorded mail, shaped like omnithread-in's. shared/email/poll.ts does the work (IMAP, the UID cursor in
 * the store, parsing, idempotent ingest); this node schedules polls, reports and emits.
 *
 * Scheduling: the first poll runs shortly after deploy, the next one `interval` seconds after the previous
 * one ENDED (so polls never overlap, however slow the server), and an input msg runs one now (after the
 * running one, if any). On close the timer stops and the node waits for a running poll, which logs out its
 * own IMAP connection; the store belongs to the store config node and is left open.
 */
import { ImapSettingsSchema, OmnithreadError, failedPoll, parseInput, pollEmailIntoTimeline } from '../../shared';
import type { EmailPollResult, ImapSettings, Omnithread } from '../../shared';
import { compact, errorStatus, fromNode, nodeError, numberProperty, triggerMessage, useStore } from './common';
import type { NodeDef, NodeStatus, RedApi, RedNode } from './common';

interface EmailInDef extends NodeDef {
  store?: string;
  host?: string;
  port?: string | number;
  secure?: boolean | string;
  user?: string;
  allowUnauthorizedCerts?: boolean | string;
  mailbox?: string;
  after?: string;
  moveTo?: string;
  errorFolder?: string;
  address?: string;
  /** Seconds between the end of one poll and the start of the next. */
  interval?: string | number;
}

const DEFAULT_INTERVAL_SECONDS = 60;
/** setTimeout's limit is 2^31-1 ms (about 24.8 days): longer intervals would fire at once. */
const MAX_INTERVAL_SECONDS = Math.floor((2 ** 31 - 1) / 1000);
/** Like an inject node's "once after 0.1 s": the flow's other nodes are started before the first msg. */
const FIRST_POLL_DELAY_MS = 100;
/** When a poll stopped at maxMessages, the rest is fetched soon rather than an interval later. */
const MORE_DELAY_MS = 1000;

/** A checkbox value as the editor saves it (boolean), or as a hand-written flow may have it ("true"). */
function flag(value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  return value === true || value === 'true';
}

/** The node's properties as the shared IMAP settings (validated here so a bad setting shows at deploy). */
function imapSettingsOf(def: EmailInDef, credentials: Record<string, string | undefined>): ImapSettings {
  return parseInput(
    ImapSettingsSchema,
    compact({
      host: fromNode(def.host),
      port: numberProperty(def.port),
      secure: flag(def.secure, true),
      user: fromNode(def.user),
      password: credentials.password ?? '',
      mailbox: fromNode(def.mailbox),
      after: fromNode(def.after),
      moveTo: fromNode(def.moveTo),
      errorFolder: fromNode(def.errorFolder),
      allowUnauthorizedCerts: flag(def.allowUnauthorizedCerts, false),
      address: fromNode(def.address),
    }),
    'IMAP settings',
  );
}

function intervalOf(value: unknown): number {
  const seconds = numberProperty(value) ?? DEFAULT_INTERVAL_SECONDS;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 1 || seconds > MAX_INTERVAL_SECONDS) {
    throw new OmnithreadError('INVALID_INPUT', `Invalid interval: must be a number of seconds from 1 to ${MAX_INTERVAL_SECONDS}, got "${String(value)}"`, { field: 'interval' });
  }
  return seconds * 1000;
}

const clock = (): string => new Date().toTimeString().slice(0, 5);

/** The status after a poll: what it found, and when (so a stuck poller is visible). */
function pollStatus(result: EmailPollResult): NodeStatus {
  const parts = [result.recorded.length ? `${result.recorded.length} new` : 'no new mail'];
  if (result.failed.length) parts.push(`${result.failed.length} unreadable`);
  const text = `${parts.join(', ')} (${clock()})`;
  if (result.failed.length) return { fill: 'yellow', shape: 'dot', text };
  return { fill: 'green', shape: result.recorded.length ? 'dot' : 'ring', text };
}

export = function register(RED: RedApi): void {
  function OmnithreadEmailIn(this: RedNode, def: EmailInDef): void {
    RED.nodes.createNode(this, def);
    const node = this;

    let settings: ImapSettings | undefined;
    let intervalMs = DEFAULT_INTERVAL_SECONDS * 1000;
    let configError: Error | undefined;
    try {
      settings = imapSettingsOf(def, node.credentials ?? {});
      intervalMs = intervalOf(def.interval);
    } catch (error) {
      configError = nodeError(error);
      node.error(`omnithread-email-in: ${configError.message}`);
    }
    // Until the first check has a result, the node shows the store is ready (not green: nothing checked yet).
    const omnithread: Promise<Omnithread> = useStore(RED, node, def.store, configError ? { fill: 'red', shape: 'ring', text: 'bad settings' } : { fill: 'blue', shape: 'ring', text: 'ready' });
    // The store's failure is reported by each poll (to Catch nodes); this keeps it from being unhandled.
    omnithread.catch(() => undefined);

    const where = settings ? `${settings.user}@${settings.host}/${settings.mailbox}` : '';

    /** One poll: recorded mails are sent first (even when the poll then failed), unreadable ones warned about. */
    async function pollOnce(): Promise<Error | undefined> {
      if (configError || !settings) return configError;
      let result: EmailPollResult;
      try {
        const ot = await omnithread;
        node.status({ fill: 'blue', shape: 'dot', text: 'checking mail' });
        result = await pollEmailIntoTimeline(ot, settings);
      } catch (error) {
        result = failedPoll(error as OmnithreadError);
      }
      for (const recorded of result.recorded) node.send(triggerMessage(RED, recorded));
      for (const failure of result.failed) {
        const fate = settings.errorFolder ? `moved to "${settings.errorFolder}"` : 'left unread in the mailbox';
        node.warn(
          `omnithread-email-in ${where}: the mail with UID ${failure.uid} could not be read and is skipped for good (${fate}): ${failure.error}${failure.field ? ` (field ${failure.field})` : ''}`,
        );
      }
      if (result.uidValidityChanged) node.log(`omnithread-email-in ${where}: the mailbox's UIDVALIDITY changed; it was read again from the start (mails already recorded are not sent twice)`);
      if (result.error) {
        node.status(errorStatus(result.error));
        return nodeError(result.error);
      }
      node.status(pollStatus(result));
      if (result.more) schedule(MORE_DELAY_MS);
      return undefined;
    }

    // ------------------------------------------------------------------------------------------
    // Scheduling: one poll at a time; the timer restarts when a poll ends.
    // ------------------------------------------------------------------------------------------
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<void> | undefined;

    function schedule(delayMs: number): void {
      if (closed) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = undefined;
        void poll().then((error) => {
          // A poll the timer started has no msg of its own: the error goes out with a msg that says where.
          if (error) node.error(error, { _msgid: RED.util.generateId(), topic: where, payload: { host: settings?.host, user: settings?.user, mailbox: settings?.mailbox, error: error.message } });
        });
      }, delayMs);
    }

    /** Runs a poll once no other is running; the next timed poll is an interval after this one ends. */
    async function poll(): Promise<Error | undefined> {
      while (running) await running;
      if (closed) return undefined;
      if (timer) clearTimeout(timer);
      timer = undefined;
      const current = pollOnce();
      running = current.then(
        () => undefined,
        () => undefined,
      );
      try {
        return await current;
      } catch (error) {
        return nodeError(error);
      } finally {
        running = undefined;
        if (!timer) schedule(intervalMs);
      }
    }

    if (configError) node.status({ fill: 'red', shape: 'ring', text: 'bad settings' });
    else schedule(FIRST_POLL_DELAY_MS);

    // An input msg ("check now", e.g. from an inject node) polls at once; its done() reports the poll's error.
    node.on('input', (_msg, _send, done) => {
      void poll().then((error) => done(error));
    });

    node.on('close', (_removed, done) => {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      // A poll in flight finishes (it logs out its own connection); nothing shared is closed here.
      (running ?? Promise.resolve()).then(() => done(), () => done());
    });
  }

  RED.nodes.registerType('omnithread-email-in', OmnithreadEmailIn, { credentials: { password: { type: 'password' } } });
};
