/**
 * Continuity metrics from the timeline, pure: each conversation's events fold into facts (a first
 * response, a resolution, a re-stated issue, a switch, a CSAT answer...), each placed at the instant that
 * ends its measure; the facts inside the period then add up into the totals, the series buckets, and the
 * figures per channel and per agent. The words of every definition are in metrics-definitions.ts.
 *
 * Both stores feed this the same way (facade/metrics.ts reads conversations in batches), so SQLite and
 * PostgreSQL report the same figures by construction; and since it is pure, a batch's events can be
 * dropped as soon as they are folded.
 */
import { OmnithreadError } from '../errors';
import type { Conversation, TimelineEvent } from '../model';
import type { MetricsBucket, MetricsFigures, MetricsQuery, MetricsReport } from '../desk/contract';
import {
  CSAT_SATISFIED,
  HANDLE_GAP_CAP_SECONDS,
  METRIC_DEFINITIONS,
  bucketStart,
  bucketStarts,
  contentWords,
  distribution,
  isRestatement,
  ratio,
  round,
} from './metrics-definitions';

export type { Distribution, MetricsBucket, MetricsFigures, MetricsQuery, MetricsReport } from '../desk/contract';

/** A conversation as the metrics read it: with its assignment now. */
export interface MetricsConversation extends Conversation {
  assignedAgentId: string | null;
}

/** The same person's conversation before this one, if it has ended: to tell a lost channel switch. */
export interface PreviousConversation {
  id: string;
  closedAt: number;
  lastChannel: string | null;
}

export interface MetricsConversationInput {
  conversation: MetricsConversation;
  /**
   * The conversation's events, any order (they are sorted by time, then seq). Only those before the
   * period's end count, except `conversation_reopened` events after it: they keep when it was resolved.
   */
  events: readonly TimelineEvent[];
  previous?: PreviousConversation | null;
}

export interface MetricsOptions {
  /** The facade's idle timeout: a new conversation opened within it after the previous one ended is a lost switch. */
  idleTimeoutMs: number;
  /** The roster's agents by kind: a handoff to, or accepted by, an AI agent is not a human's. */
  agentKinds?: ReadonlyMap<string, 'human' | 'ai'>;
}

/** One measure, placed at the instant that ends it. */
export type MetricsFact =
  | { type: 'opened'; at: number }
  | { type: 'firstResponse'; at: number; seconds: number }
  | { type: 'resolved'; at: number; seconds: number; messages: number; handleSeconds: number | null }
  | { type: 'repeat'; at: number; repeated: boolean }
  | { type: 'switch'; at: number; continued: boolean }
  | { type: 'csat'; at: number; score: number }
  | { type: 'handled'; at: number; by: 'ai' | 'human' };

export interface ConversationFacts {
  conversationId: string;
  /** The channel the conversation started on (see byChannel). */
  channel: string;
  /** The agent responsible for it (see byAgent), or null. */
  agentId: string | null;
  facts: MetricsFact[];
}

// ---------------------------------------------------------------------------------------------
// One conversation
// ---------------------------------------------------------------------------------------------

const atOf = (e: TimelineEvent): number => Date.parse(e.occurredAt);
const str = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);
const isMessage = (e: TimelineEvent): boolean => e.kind === 'message' || e.kind === 'call';
const isInbound = (e: TimelineEvent): boolean => isMessage(e) && e.direction === 'inbound';
/** An outbound message that reached (or may have reached) the customer: a reserved or failed send did not. */
const isSent = (e: TimelineEvent): boolean => isMessage(e) && e.direction === 'outbound' && e.data.sendState !== 'pending' && e.data.sendState !== 'failed';
const authorOf = (e: TimelineEvent): { type: string | null; id: string | null } => {
  const author = e.data.author;
  if (typeof author !== 'object' || author === null) return { type: null, id: null };
  const a = author as Record<string, unknown>;
  return { type: str(a.type), id: str(a.id) };
};

/** A CSAT score from 1 to 5 (data.score, else data.rating; a number or numeric text), or null. */
function csatScore(data: Record<string, unknown>): number | null {
  for (const value of [data.score, data.rating]) {
    const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() ? Number(value) : NaN;
    if (Number.isFinite(n) && n >= 1 && n <= 5) return n;
  }
  return null;
}

/**
 * When the conversation was last resolved, if it is resolved at `to`: resolutions come from the row
 * (status resolved), from `handoff_resolved` events, and from reopenings (a reopen from resolved keeps the
 * time it had been closed); several without a reopen in between are one, at the first.
 */
function resolvedAt(conversation: MetricsConversation, events: readonly TimelineEvent[], to: number): number | null {
  const marks: { at: number; resolve: boolean }[] = [];
  if (conversation.status === 'resolved' && conversation.closedAt) marks.push({ at: Date.parse(conversation.closedAt), resolve: true });
  for (const e of events) {
    if (e.kind === 'handoff_resolved') marks.push({ at: atOf(e), resolve: true });
    if (e.kind === 'conversation_reopened') {
      const closed = e.data.from === 'resolved' ? Date.parse(String(e.data.closedAt)) : NaN;
      if (Number.isFinite(closed)) marks.push({ at: closed, resolve: true });
      marks.push({ at: atOf(e), resolve: false });
    }
  }
  // On a tie the resolution comes first: a reopen at the same instant undoes it.
  marks.sort((a, b) => a.at - b.at || Number(b.resolve) - Number(a.resolve));
  let at: number | null = null;
  for (const mark of marks) {
    if (mark.at >= to) break;
    if (!mark.resolve) at = null;
    else at ??= mark.at;
  }
  return at;
}

/** Folds one conversation's events (those before `to`) into facts. */
export function conversationFacts(input: MetricsConversationInput, options: MetricsOptions, to: number): ConversationFacts {
  const { conversation, previous } = input;
  const kinds = options.agentKinds ?? new Map<string, 'human' | 'ai'>();
  const isAiAgent = (id: unknown): boolean => typeof id === 'string' && kinds.get(id) === 'ai';
  const all = [...input.events].sort((a, b) => atOf(a) - atOf(b) || a.seq - b.seq);
  const events = all.filter((e) => atOf(e) < to);
  const openedAt = Date.parse(conversation.openedAt);
  const channel = conversation.channels[0] ?? events.find((e) => e.channel)?.channel ?? 'unknown';
  const facts: MetricsFact[] = [];
  if (openedAt < to) facts.push({ type: 'opened', at: openedAt });

  // First human response, one per wait (see firstResponseSeconds).
  let waitStart: number | null = null;
  let awaitingCustomer = true;
  // Re-stated issues (see repeatRate).
  const earlierWords = new Set<string>();
  let customerWrote = false;
  let opportunity = false;
  // Who handled it, and who is responsible for it.
  let human = false;
  let ai = false;
  let lastHandledAt: number | null = null;
  let owner: string | null | undefined;
  let resolver: string | null = null;
  let lastAuthor: string | null = null;
  let csat: { at: number; score: number } | undefined;

  for (const e of events) {
    const at = atOf(e);
    if (isInbound(e)) {
      if (awaitingCustomer) {
        waitStart = at;
        awaitingCustomer = false;
      }
      const words = contentWords(e.text);
      if (opportunity) facts.push({ type: 'repeat', at, repeated: isRestatement(words, earlierWords) });
      opportunity = false;
      for (const w of words) earlierWords.add(w);
      customerWrote = true;
    } else if (isSent(e)) {
      const author = authorOf(e);
      if (author.type === 'human' || author.type === 'ai') {
        if (author.type === 'human') human = true;
        else ai = true;
        lastHandledAt = at;
        lastAuthor = author.id ?? lastAuthor;
      }
      if (author.type === 'human' && waitStart !== null) {
        facts.push({ type: 'firstResponse', at, seconds: (at - waitStart) / 1000 });
        waitStart = null;
      }
    }
    switch (e.kind) {
      case 'conversation_reopened':
        // The next wait starts at the customer's next message (a reply of ours may have reopened it).
        waitStart = null;
        awaitingCustomer = true;
        break;
      case 'handoff':
        if (!awaitingCustomer && !isAiAgent(e.data.to)) waitStart = at;
        if (customerWrote) opportunity = true;
        break;
      case 'handoff_accepted':
        if (customerWrote) opportunity = true;
        owner = str(e.data.agentId) ?? owner;
        if (!isAiAgent(e.data.agentId)) {
          human = true;
          lastHandledAt = at;
        }
        break;
      case 'handoff_released':
        owner = null;
        break;
      case 'handoff_resolved':
        resolver = str(e.data.agentId) ?? resolver;
        break;
      case 'route_decision': {
        const decision = e.data.decision as { target?: { agentId?: unknown } } | undefined;
        if (e.data.assigned === true && str(decision?.target?.agentId)) owner = str(decision?.target?.agentId);
        break;
      }
      case 'channel_switch':
        facts.push({ type: 'switch', at, continued: true });
        if (customerWrote) opportunity = true;
        break;
      case 'csat': {
        const score = csatScore(e.data);
        if (score !== null) csat = { at, score };
        break;
      }
    }
  }

  // A new conversation on another channel soon after the previous one ended: a switch that lost the thread.
  if (previous && openedAt < to && previous.closedAt <= openedAt && openedAt - previous.closedAt <= options.idleTimeoutMs) {
    if (previous.lastChannel && previous.lastChannel !== channel) facts.push({ type: 'switch', at: openedAt, continued: false });
  }

  // All events: a reopening after `to` still tells when the conversation had been resolved before it.
  const resolved = resolvedAt(conversation, all, to);
  if (resolved !== null) {
    const upTo = events.filter((e) => atOf(e) <= resolved);
    facts.push({
      type: 'resolved',
      at: resolved,
      seconds: Math.max(0, resolved - openedAt) / 1000,
      messages: upTo.filter((e) => isInbound(e) || isSent(e)).length,
      handleSeconds: handleSeconds(upTo, isAiAgent),
    });
  }
  if (csat) facts.push({ type: 'csat', ...csat });
  if (lastHandledAt !== null && (human || ai)) facts.push({ type: 'handled', at: lastHandledAt, by: human ? 'human' : 'ai' });

  const agentId = resolver ?? owner ?? conversation.assignedAgentId ?? lastAuthor;
  return { conversationId: conversation.id, channel, agentId, facts };
}

/**
 * The human agents' working time (see handleSeconds): each human action adds the time since the previous
 * event of the conversation, capped; null when no human acted.
 */
function handleSeconds(events: readonly TimelineEvent[], isAiAgent: (id: unknown) => boolean): number | null {
  let previous: number | null = null;
  let total = 0;
  let acted = false;
  for (const e of events) {
    const at = atOf(e);
    const byHuman = (e.kind === 'handoff_accepted' || e.kind === 'handoff_released' || e.kind === 'handoff_resolved') && str(e.data.agentId) !== null && !isAiAgent(e.data.agentId);
    const humanMessage = isSent(e) && authorOf(e).type === 'human';
    if (!isInbound(e) && !isSent(e) && !byHuman) continue;
    if ((humanMessage || (byHuman && e.kind !== 'handoff_accepted')) && previous !== null) total += Math.min(at - previous, HANDLE_GAP_CAP_SECONDS * 1000);
    if (humanMessage || byHuman) acted = true;
    previous = at;
  }
  return acted ? total / 1000 : null;
}

// ---------------------------------------------------------------------------------------------
// Adding up
// ---------------------------------------------------------------------------------------------

/** The running sums behind one MetricsFigures. */
class Tally {
  conversations = 0;
  resolved = 0;
  firstResponse: number[] = [];
  resolution: number[] = [];
  handle: number[] = [];
  resolvedMessages = 0;
  repeats = 0;
  opportunities = 0;
  switches = 0;
  continued = 0;
  csat: number[] = [];
  ai = 0;
  human = 0;

  add(fact: MetricsFact): void {
    switch (fact.type) {
      case 'opened':
        this.conversations++;
        break;
      case 'firstResponse':
        this.firstResponse.push(fact.seconds);
        break;
      case 'resolved':
        this.resolved++;
        this.resolution.push(fact.seconds);
        this.resolvedMessages += fact.messages;
        if (fact.handleSeconds !== null) this.handle.push(fact.handleSeconds);
        break;
      case 'repeat':
        this.opportunities++;
        if (fact.repeated) this.repeats++;
        break;
      case 'switch':
        this.switches++;
        if (fact.continued) this.continued++;
        break;
      case 'csat':
        this.csat.push(fact.score);
        break;
      case 'handled':
        if (fact.by === 'ai') this.ai++;
        else this.human++;
        break;
    }
  }

  figures(): MetricsFigures {
    const satisfied = this.csat.filter((s) => s >= CSAT_SATISFIED).length;
    return {
      conversations: this.conversations,
      resolved: this.resolved,
      firstResponseSeconds: distribution(this.firstResponse),
      resolutionSeconds: distribution(this.resolution),
      handleSeconds: distribution(this.handle),
      messagesPerResolution: ratio(this.resolvedMessages, this.resolved),
      repeatRate: { rate: ratio(this.repeats, this.opportunities), repeats: this.repeats, opportunities: this.opportunities },
      channelSwitches: {
        total: this.switches,
        perConversation: ratio(this.switches, this.conversations),
        continued: this.continued,
        continuedShare: ratio(this.continued, this.switches),
      },
      csat: {
        responses: this.csat.length,
        average: this.csat.length ? round(this.csat.reduce((s, v) => s + v, 0) / this.csat.length, 4) : null,
        satisfiedShare: ratio(satisfied, this.csat.length),
      },
      handledBy: { ai: this.ai, human: this.human, aiShare: ratio(this.ai, this.ai + this.human) },
    };
  }
}

/** A query with its times as epoch milliseconds. */
export interface MetricsPeriod {
  from: number;
  to: number;
  bucket: MetricsBucket;
  channel?: string;
  agentId?: string;
}

/**
 * Adds conversations up into a report, one batch at a time: add() folds and keeps only the sums, so a
 * caller can read conversations in batches and let each batch's events go.
 */
export class MetricsAccumulator {
  private readonly totals = new Tally();
  private readonly buckets: { start: number; tally: Tally }[];
  private readonly byChannel = new Map<string, Tally>();
  private readonly byAgent = new Map<string, Tally>();

  constructor(
    readonly period: MetricsPeriod,
    private readonly options: MetricsOptions,
  ) {
    if (!(Number.isFinite(period.from) && Number.isFinite(period.to) && period.from < period.to)) {
      throw new OmnithreadError('INVALID_INPUT', 'Invalid metrics query: to: must be later than from', { field: 'to' });
    }
    // Throws INVALID_INPUT for too many buckets, before any reading.
    this.buckets = bucketStarts(period.from, period.to, period.bucket).map((start) => ({ start, tally: new Tally() }));
  }

  add(input: MetricsConversationInput): void {
    const { from, to, bucket, channel, agentId } = this.period;
    const folded = conversationFacts(input, this.options, to);
    if (channel !== undefined && folded.channel !== channel) return;
    if (agentId !== undefined && folded.agentId !== agentId) return;
    const first = this.buckets[0].start;
    const size = this.buckets.length > 1 ? this.buckets[1].start - first : 0;
    for (const fact of folded.facts) {
      if (fact.at < from || fact.at >= to) continue;
      this.totals.add(fact);
      const index = size ? Math.round((bucketStart(fact.at, bucket) - first) / size) : 0;
      this.buckets[index].tally.add(fact);
      tallyOf(this.byChannel, folded.channel).add(fact);
      if (folded.agentId) tallyOf(this.byAgent, folded.agentId).add(fact);
    }
  }

  report(generatedAt: number): MetricsReport {
    const { from, to, bucket, channel, agentId } = this.period;
    const query: MetricsQuery = {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      bucket,
      ...(channel !== undefined ? { channel } : {}),
      ...(agentId !== undefined ? { agentId } : {}),
    };
    const figuresBy = (map: Map<string, Tally>) => Object.fromEntries([...map.keys()].sort().map((key) => [key, map.get(key)!.figures()]));
    return {
      query,
      generatedAt: new Date(generatedAt).toISOString(),
      definitions: { ...METRIC_DEFINITIONS },
      totals: this.totals.figures(),
      series: this.buckets.map((b) => ({ start: new Date(b.start).toISOString(), figures: b.tally.figures() })),
      byChannel: figuresBy(this.byChannel),
      byAgent: figuresBy(this.byAgent),
    };
  }
}

function tallyOf(map: Map<string, Tally>, key: string): Tally {
  let tally = map.get(key);
  if (!tally) map.set(key, (tally = new Tally()));
  return tally;
}

/** The report for these conversations (each with its events), in one call: for tests and small sets. */
export function computeMetrics(query: MetricsQuery, conversations: readonly MetricsConversationInput[], options: MetricsOptions & { generatedAt: number }): MetricsReport {
  const accumulator = new MetricsAccumulator(
    { from: Date.parse(query.from), to: Date.parse(query.to), bucket: query.bucket, channel: query.channel, agentId: query.agentId },
    options,
  );
  for (const conversation of conversations) accumulator.add(conversation);
  return accumulator.report(options.generatedAt);
}
