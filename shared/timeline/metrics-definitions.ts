/**
 * The continuity metrics' definitions, in words and in code: the constants they name, the text similarity
 * that decides whether a customer re-stated their issue, the distributions and the time buckets. Pure: no
 * SQL, no clock. metrics.ts folds a conversation's timeline into figures with these; the README (Continuity metrics) holds
 * the same words as METRIC_DEFINITIONS (a test keeps the two equal).
 */
import { OmnithreadError } from '../errors';
import type { Distribution, MetricsBucket } from '../desk/contract';

/** Between two agent actions, at most this much counts as work (see handleSeconds). */
export const HANDLE_GAP_CAP_SECONDS = 600;
/** A message needs this many content words to be able to re-state an issue ("any update?" has one). */
export const REPEAT_MIN_WORDS = 3;
/** ... and must share at least this many with what the customer wrote before ... */
export const REPEAT_MIN_SHARED = 3;
/** ... and at least this share of its own content words. */
export const REPEAT_MIN_CONTAINMENT = 0.5;
/** A CSAT score at or above this is "satisfied". */
export const CSAT_SATISFIED = 4;
/** Upper bounds (seconds) of the histogram buckets; null is Infinity. */
export const HISTOGRAM_BOUNDS: readonly (number | null)[] = [60, 300, 900, 3600, 4 * 3600, 86400, 3 * 86400, null];
/** A series has at most this many buckets: an hourly series over a year is a mistake, not a chart. */
export const MAX_BUCKETS = 1000;
/** Events this long after a conversation ended still count (a CSAT survey answered days later). */
export const LATE_EVENT_WINDOW_MS = 7 * 86_400_000;

export const METRIC_DEFINITIONS: Readonly<Record<string, string>> = Object.freeze({
  period:
    'The period is from `from` (included) to `to` (excluded), UTC. A figure counts in the period, and in the series bucket, of the event that ends its measure: a first response at the response, a resolution at the resolution, a CSAT at the answer. Only events before `to` are read, so a report on a past period does not change as conversations go on. Defaults: the 7 days before now, daily buckets.',
  conversations: 'Conversations opened in the period (at their first message).',
  resolved:
    'Conversations resolved in the period and still resolved at `to`: resolved through the Handoff node or by an agent, counted once, at their last resolution (a conversation resolved, reopened by a reply and resolved again counts at the second). A conversation that ended because it went idle is not resolved.',
  firstResponseSeconds:
    'First human response time: from the customer\'s first message (a message or call, inbound) of the conversation to the first message sent to them by a human agent (author type "human"); answers by an AI or by the system do not count. The clock starts again at a handoff to a human (the customer now waits for a person; an earlier, unanswered wait is replaced by this one) and at a reopening (from the customer\'s first message after it), so a conversation can give several measures, one per wait. A wait with no human response before `to` is not counted. Failed or pending sends are not responses.',
  resolutionSeconds: 'Resolution time: from the conversation\'s first message (opened) to its resolution (see resolved), for every conversation resolved in the period.',
  handleSeconds: `Handle time: an estimate of the human agents' working time on a conversation resolved in the period. Every human agent action (a message by a human agent, releasing or resolving a handoff) adds the time since the conversation's previous event (a message either way, an acceptance or another agent action), capped at ${HANDLE_GAP_CAP_SECONDS / 60} minutes: reading and answering, not waiting. Accepting a handoff starts the work and adds nothing. Conversations without a human agent action are not counted.`,
  messagesPerResolution: 'Messages per resolution: the messages and calls, inbound and outbound (failed or pending sends excluded), of the conversations resolved in the period, up to their resolution, divided by the number of those conversations.',
  repeatRate: `Repeat rate: the share of continuity opportunities after which the customer re-stated their issue. An opportunity is a channel switch inside a conversation, or a handoff ("handoff" or "handoff_accepted" event), once the customer has written in it; several before the customer's next message are one opportunity, measured at that message (none: not counted). It is a repeat when that message has at least ${REPEAT_MIN_WORDS} content words, shares at least ${REPEAT_MIN_SHARED} of them with what the customer wrote earlier in the conversation, and those are at least ${REPEAT_MIN_CONTAINMENT * 100}% of its content words. Content words: lower case, accents removed, split at anything not a letter or digit, greetings, pronouns, fillers and status words ("hi", "my", "any", "update", "still", "not"...) and one-letter words dropped, plural and -ed/-ing endings cut ("arrived" = "arrive"); numbers (an order number) count. So "Hi, order 4411 has not arrived yet" after "my order 4411 never arrived" is a repeat; "any update?" is not.`,
  channelSwitches:
    'Channel switches: a conversation that moved to another channel (a "channel_switch" event, either side writing on a new channel) is a switch that continued the conversation. A new conversation that the same person opened on another channel than the one their previous conversation ended on, within the idle timeout after that one ended (resolved or idle), is a switch that did not continue: the context was lost. perConversation is all switches divided by the conversations opened in the period; continuedShare is continued divided by all switches.',
  csat: `CSAT: events of kind "csat" with data.score (or data.rating) from 1 to 5, recorded on the conversation (give its conversationId when the conversation has ended; answers up to ${LATE_EVENT_WINDOW_MS / 86_400_000} days after the end are read). One answer per conversation, the latest; average of the scores, and the share of scores of ${CSAT_SATISFIED} or more.`,
  handledBy:
    'AI-handled vs human-handled: a conversation is human-handled when a human agent sent a message in it (author type "human") or accepted a handoff (an agent the roster does not list as an AI); AI-handled when it had messages by an AI (author type "ai") and nothing human. Counted once, at its last such action; aiShare = ai / (ai + human).',
  distributions:
    'Durations are in seconds (to the millisecond). median and p90 interpolate linearly between the two nearest ranks (numpy\'s default; the median of 60 and 120 is 90); mean is the arithmetic mean. The histogram counts each value once, in the first bucket whose upper bound `le` it does not exceed: 1 min, 5 min, 15 min, 1 h, 4 h, 1 day, 3 days, and null for more. Rates and averages are rounded to 4 decimals.',
  series: `series: one entry per hour, day or week (UTC; weeks start on Monday) from the bucket holding \`from\` to the one holding the last instant before \`to\`, empty buckets included; at most ${MAX_BUCKETS} buckets.`,
  byChannel: 'byChannel: the figures per channel the conversation started on (its first channel), so each conversation counts under one channel and the channels add up to the totals. The channel filter keeps the conversations that started on that channel.',
  byAgent:
    'byAgent: the figures per agent responsible for the conversation: the agent who resolved its handoff, else the one who last accepted it or was assigned by a route decision (unless released since), else the one it is assigned to, else the last agent (human or AI) who wrote in it. Conversations without one are only in the totals. The agentId filter keeps that agent\'s conversations.',
});

// ---------------------------------------------------------------------------------------------
// Re-stated issues
// ---------------------------------------------------------------------------------------------

/**
 * Words that say nothing about the issue: greetings, pronouns, articles, fillers, negations and the words
 * of a follow-up ("any update", "still", "yet"), in a few languages. What is left names the issue.
 */
const FILLER = new Set(
  (
    'a an the and or but of to in on at for from by with as so if is are was were be been being am do does did done have has had ' +
    'i me my mine we us our you your yours it its this that these those there here he she him her his they them their ' +
    'hi hello hey hiya dear good morning afternoon evening thanks thank thx ty please pls regards cheers ok okay yes no yeah sorry ' +
    'can could would will shall should may might must just also too very really again already still yet any anything some ' +
    'not never nothing none dont didnt doesnt isnt wasnt hasnt havent cant wont im ive id youre thats whats ' +
    'how what when where why who which update updates news status follow up know let get got ' +
    'hallo danke bitte ich mein meine meinen wie was wann wo warum der die das ein eine und oder ist sind nicht noch schon ' +
    'hola gracias por favor como que el la los las un una y o es mi no todavia ' +
    'bonjour merci je mon ma mes le les une et ou est comment pas toujours ' +
    'ola obrigado obrigada os as um uma meu minha ainda nao'
  ).split(/\s+/),
);

/** Cuts plural and -ed/-ing endings of longer words, so "arrived", "arrives" and "arriving" meet at "arriv". */
function stem(word: string): string {
  if (word.length < 5 || /^\d+$/.test(word)) return word;
  const cut = word.replace(/(ing|ed|es|(?<!s)s)$/, ''); // "address" keeps its double s
  const base = cut.length >= 3 ? cut : word;
  return base.length >= 4 ? base.replace(/e$/, '') : base;
}

/** The content words of a text, as a set (see the repeatRate definition). */
export function contentWords(text: string): Set<string> {
  const folded = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]+/g, '')
    .normalize('NFC')
    .toLowerCase()
    // "haven't" is one filler word, not "haven" and "t".
    .replace(/['’]/g, '');
  const words = folded.split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 1 && !FILLER.has(w));
  return new Set(words.map(stem));
}

/**
 * Whether `message` re-states what the customer wrote earlier (`earlier`: the content words of their
 * earlier messages in the conversation, together).
 */
export function isRestatement(message: ReadonlySet<string>, earlier: ReadonlySet<string>): boolean {
  if (message.size < REPEAT_MIN_WORDS) return false;
  let shared = 0;
  for (const w of message) if (earlier.has(w)) shared++;
  return shared >= REPEAT_MIN_SHARED && shared / message.size >= REPEAT_MIN_CONTAINMENT;
}

// ---------------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------------

export const round = (n: number, decimals: number): number => {
  const f = 10 ** decimals;
  return Math.round(n * f) / f;
};

export const ratio = (a: number, b: number): number | null => (b > 0 ? round(a / b, 4) : null);

/** Linear interpolation between the closest ranks (numpy's default, Excel's PERCENTILE.INC) of sorted values. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (!sorted.length) return null;
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** A distribution of durations in seconds. */
export function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const histogram = HISTOGRAM_BOUNDS.map((le) => ({ le, count: 0 }));
  for (const v of sorted) histogram[HISTOGRAM_BOUNDS.findIndex((le) => le === null || v <= le)].count++;
  const at = (p: number) => {
    const v = percentile(sorted, p);
    return v === null ? null : round(v, 3);
  };
  return {
    count: sorted.length,
    median: at(0.5),
    p90: at(0.9),
    mean: sorted.length ? round(sorted.reduce((s, v) => s + v, 0) / sorted.length, 3) : null,
    histogram,
  };
}

// ---------------------------------------------------------------------------------------------
// Time buckets (UTC)
// ---------------------------------------------------------------------------------------------

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
/** 1970-01-01 was a Thursday: the first Monday is 4 days later. */
const MONDAY = 4 * DAY;

const BUCKET_MS: Record<MetricsBucket, number> = { hour: HOUR, day: DAY, week: WEEK };

/** The start of the bucket holding `at`. Every bucket size is a fixed length in UTC, so this is arithmetic. */
export function bucketStart(at: number, bucket: MetricsBucket): number {
  const size = BUCKET_MS[bucket];
  const offset = bucket === 'week' ? MONDAY : 0;
  return Math.floor((at - offset) / size) * size + offset;
}

/** The starts of the buckets from the one holding `from` to the one holding `to - 1`; INVALID_INPUT past MAX_BUCKETS. */
export function bucketStarts(from: number, to: number, bucket: MetricsBucket): number[] {
  const size = BUCKET_MS[bucket];
  const first = bucketStart(from, bucket);
  const count = Math.floor((bucketStart(to - 1, bucket) - first) / size) + 1;
  if (count > MAX_BUCKETS) {
    throw new OmnithreadError(
      'INVALID_INPUT',
      `Invalid metrics query: bucket: ${count} ${bucket} buckets from ${new Date(from).toISOString()} to ${new Date(to).toISOString()} is more than ${MAX_BUCKETS}; choose a larger bucket or a shorter period`,
      { field: 'bucket', details: { buckets: count, max: MAX_BUCKETS } },
    );
  }
  return Array.from({ length: count }, (_, i) => first + i * size);
}
