/**
 * The route decision (DESIGN.md, Routing): ordered TaskRouter-style steps, each explainable.
 *
 *   1. answer_from_history: the same question, asked by this person on any channel, was answered before:
 *      hand back that answer (skipped when the customer wants a human or is upset: a replayed answer is
 *      an automated reply, and they get the same protection as from AI agents).
 *   2. known_agent: the human who last handled this person, on any channel, if available with room.
 *   3. skills: the least-loaded agent (human or AI, one pool) that is available, works the channel, speaks
 *      the language and holds the required skill; AI agents are left out when the customer wants a human,
 *      is upset, or the classification is less sure than the agent's confidence threshold.
 *   4. priority: VIP contact, negative sentiment, high urgency, long wait. Part of every decision; when
 *      nobody can take the conversation it goes to the priority queue (`${queue}-priority`).
 *   5. fallback_queue: nobody available: the queue.
 *
 * Steps 2-3 run INSIDE one transaction under the workspace routing lock (Omnithread.routeConversation):
 * the roster and loads are read fresh there and the assignment is made there, so concurrent decisions
 * never overfill an agent. The decision is recorded on the timeline as a `route_decision` event.
 */
import { z } from 'zod';
import { ChannelSchema, parseInput } from '../model';
import type { Omnithread, RoutingContext, RoutingState } from '../omnithread';
import type { TimelineEvent } from '../model';
import { Agent, Load, languageMatches } from './roster';
import { Classification, RouteAlternative, RouteDecision, RouteStep, SentimentSchema, UrgencySchema } from './types';

const DAY = 24 * 60 * 60 * 1000;
const MINUTE = 60 * 1000;

/** The kind of the timeline event a decision is recorded as. */
export const ROUTE_DECISION_EVENT = 'route_decision';

const SkillListSchema = z.union([z.string().trim().toLowerCase().min(1).max(64), z.array(z.string().trim().toLowerCase().min(1).max(64)).max(20)]);
const VipValueSchema = z.union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number(), z.boolean()])).max(50)]);

export const RouteOptionsSchema = z
  .object({
    /** Whether AI agents of the roster may be chosen at all. */
    aiAgents: z.boolean().default(true),
    answerFromHistory: z
      .object({
        enabled: z.boolean().default(true),
        /** 0..1: how alike (cosine over normalised words) the earlier question must be. */
        minSimilarity: z.number().min(0).max(1).default(0.6),
        maxAgeDays: z.number().positive().max(3650).default(90),
        /** Also skip it when the customer is upset (negative sentiment). wantsHuman always skips it. */
        skipWhenNegative: z.boolean().default(true),
      })
      .strict()
      .default({}),
    knownAgent: z
      .object({ enabled: z.boolean().default(true), maxAgeDays: z.number().positive().max(3650).default(30) })
      .strict()
      .default({}),
    /**
     * intent -> skill(s) an agent needs (all of them). Unlisted intents need the skill named like the
     * intent when some agent of the roster has it, otherwise none.
     */
    requiredSkills: z.record(z.string(), SkillListSchema).default({}),
    vip: z
      .object({
        /** Contact attributes that make a VIP: a value must equal, an array lists the accepted values. */
        attributes: z.record(z.string(), VipValueSchema).default({ vip: true }),
      })
      .strict()
      .default({}),
    /** An unanswered inbound message older than this raises the priority. */
    maxWaitMinutes: z.number().positive().default(30),
    queue: z.string().trim().min(1).max(128).default('default'),
    /** For AI agents without a threshold of their own. */
    aiConfidenceThreshold: z.number().min(0).max(1).default(0.7),
    /** The decision's clock (epoch ms or ISO); default: now. */
    now: z.union([z.number(), z.string().datetime({ offset: true })]).optional(),
  })
  .strict();
export type RouteOptions = z.input<typeof RouteOptionsSchema>;
type Options = z.output<typeof RouteOptionsSchema>;

export const RouteClassificationSchema = z
  .object({
    intent: z.string().trim().toLowerCase().min(1).max(64),
    language: z.string().trim().toLowerCase().min(1).max(35).default('und'),
    sentiment: SentimentSchema.default('neutral'),
    urgency: UrgencySchema.default('normal'),
    confidence: z.number().min(0).max(1),
    wantsHuman: z.boolean().default(false),
    source: z.enum(['rules', 'llm', 'chat-model']).default('rules'),
    fallback: z.object({ from: z.enum(['llm', 'chat-model']), reason: z.string() }).optional(),
    reasons: z.array(z.string()).default([]),
  });

export const RouteInputSchema = z
  .object({
    contactId: z.string().min(1).max(64),
    /** Default: the person's open conversation. */
    conversationId: z.string().min(1).max(64).optional(),
    /** The message being routed: never its own "earlier answer"; also makes routing idempotent. */
    eventId: z.string().min(1).max(64).optional(),
    text: z.string().max(200_000).default(''),
    channel: ChannelSchema,
    classification: RouteClassificationSchema,
  })
  .strict();
export type RouteInput = z.input<typeof RouteInputSchema>;

export interface RouteStepTrace {
  step: RouteStep;
  outcome: 'chosen' | 'skipped' | 'no_match' | 'applied';
  reason: string;
}

export interface RouteResult extends RouteDecision {
  /** What each step did, in order. */
  steps: RouteStepTrace[];
  /** True when the conversation was assigned to target.agentId by this decision. */
  assigned: boolean;
  /** True when this message (eventId) was routed before: the first decision is returned, nothing written. */
  duplicate: boolean;
}

// ---------------------------------------------------------------------------------------------
// Similarity
// ---------------------------------------------------------------------------------------------

/** Filler words of a few languages that say nothing about the question (greetings, thanks, pronouns). */
const STOPWORDS = new Set(
  (
    'a an the and or but of to in on at for from by with is are was were be been am do does did i me my we our you your it its this that ' +
    'hi hello hey dear thanks thank please regards cheers can could would will shall should how what when where why who ' +
    'hallo danke bitte ich mein meine wie was wann wo warum der die das ein eine und oder ist sind ' +
    'hola gracias por favor como que el la los las un una y o es mi ' +
    'bonjour merci je mon ma le les une et ou est comment ' +
    'ola obrigado obrigada o os as um uma e meu minha como'
  ).split(/\s+/),
);

/** Lower case, accents folded, split on anything that is not a letter or digit (any script); filler dropped. */
export function normaliseWords(text: string): string[] {
  // Latin accents go (café = cafe); other scripts' marks (kana voicing, Indic vowel signs) carry meaning and stay.
  const folded = text.normalize('NFKD').replace(/[\u0300-\u036f]+/g, '').normalize('NFC').toLowerCase();
  const words = folded.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  const kept = words.filter((w) => !STOPWORDS.has(w));
  // A question made only of filler ("how are you?") is still compared on its words.
  return kept.length ? kept : words;
}

/** Cosine similarity of the two texts' word sets (0..1): |A∩B| / sqrt(|A|·|B|). */
export function textSimilarity(a: string, b: string): number {
  const A = new Set(normaliseWords(a));
  const B = new Set(normaliseWords(b));
  if (!A.size || !B.size) return 0;
  let shared = 0;
  for (const w of A) if (B.has(w)) shared++;
  return shared / Math.sqrt(A.size * B.size);
}

// ---------------------------------------------------------------------------------------------
// Pure steps
// ---------------------------------------------------------------------------------------------

interface EarlierAnswer {
  text: string;
  eventId: string;
  channel: string;
  at: string;
  similarity: number;
  questionEventId: string;
}

const isUsableAnswer = (e: TimelineEvent): boolean =>
  e.direction === 'outbound' && e.kind === 'message' && e.text.trim().length > 0 && e.data.sendState !== 'failed' && e.data.sendState !== 'pending';

/**
 * The best earlier answer to `text`: an inbound message of the person (not the one being routed) at
 * least `minSimilarity` alike, followed in its conversation by an outbound message before the next
 * inbound one. The most similar wins; ties go to the most recent.
 */
export function findEarlierAnswer(messages: readonly TimelineEvent[], text: string, options: { minSimilarity: number; excludeEventId?: string; since: number }): EarlierAnswer | undefined {
  let best: EarlierAnswer | undefined;
  messages.forEach((question, index) => {
    if (question.direction !== 'inbound' || question.id === options.excludeEventId || !question.text.trim()) return;
    if (Date.parse(question.occurredAt) < options.since) return;
    const similarity = textSimilarity(text, question.text);
    if (similarity < options.minSimilarity) return;
    let answer: TimelineEvent | undefined;
    for (const later of messages.slice(index + 1)) {
      if (later.conversationId !== question.conversationId) continue;
      if (later.direction === 'inbound') {
        // A follow-up that asks the same again still waits for the same answer; anything else ends the search.
        if (textSimilarity(later.text, question.text) >= options.minSimilarity) continue;
        break;
      }
      if (isUsableAnswer(later)) {
        answer = later;
        break;
      }
    }
    if (!answer || !answer.channel) return;
    if (!best || similarity > best.similarity || (similarity === best.similarity && answer.occurredAt >= best.at)) {
      best = { text: answer.text, eventId: answer.id, channel: answer.channel, at: answer.occurredAt, similarity, questionEventId: question.id };
    }
  });
  return best;
}

/** The human who last handled the person: newest of assignments and messages authored by a roster human. */
export function lastHumanAgent(context: RoutingContext, humans: ReadonlySet<string>, since: number): { agentId: string; at: number; via: string } | undefined {
  let best: { agentId: string; at: number; via: string } | undefined;
  const consider = (agentId: unknown, at: number, via: string) => {
    if (typeof agentId !== 'string' || !humans.has(agentId) || !(at >= since)) return;
    if (!best || at > best.at) best = { agentId, at, via };
  };
  for (const c of context.conversations) {
    if (c.assignedAgentId) consider(c.assignedAgentId, Date.parse(c.assignedAt ?? c.lastActivityAt), `assigned conversation ${c.id}`);
  }
  for (const e of context.messages) {
    const author = e.data.author as { id?: unknown; type?: unknown } | undefined;
    if (e.direction === 'outbound' && author && author.type !== 'ai') consider(author.id, Date.parse(e.occurredAt), `${e.channel ?? 'a'} reply ${e.id}`);
  }
  return best;
}

export function isVip(attributes: Record<string, unknown>, rules: Record<string, z.output<typeof VipValueSchema>>): string | undefined {
  for (const [name, wanted] of Object.entries(rules)) {
    const value = attributes[name];
    if (value === undefined || value === null) continue;
    const ok = Array.isArray(wanted) ? wanted.some((w) => w === value || String(w).toLowerCase() === String(value).toLowerCase()) : wanted === value || String(wanted).toLowerCase() === String(value).toLowerCase();
    if (ok) return `${name} = ${JSON.stringify(value)}`;
  }
  return undefined;
}

/** The oldest inbound message of the conversation not yet followed by an outbound one. */
function firstUnanswered(messages: readonly TimelineEvent[], conversationId: string | null): TimelineEvent | undefined {
  let first: TimelineEvent | undefined;
  for (const e of messages) {
    if (conversationId && e.conversationId !== conversationId) continue;
    if (e.direction === 'outbound' && e.kind === 'message') first = undefined;
    else if (e.direction === 'inbound' && !first) first = e;
  }
  return first;
}

const fmt = (share: number): string => share.toFixed(2);

/** What steps 2-3 chose (agentId null: nobody), with the trace of both steps. */
export interface AgentPick {
  agentId: string | null;
  step: RouteStep;
  reason: string;
  confidence: number;
  alternatives: RouteAlternative[];
  traces: RouteStepTrace[];
}

/** Steps 2 and 3 over a fresh roster state: who gets the conversation, and why not the others. */
export function chooseAgent(
  state: Pick<RoutingState, 'agents' | 'loads'>,
  ask: { channel: string; classification: Classification; options: Options; knownAgent?: { agentId: string; via: string }; requiredSkills: string[] },
): AgentPick {
  const { channel, classification: c, options } = ask;
  const traces: RouteStepTrace[] = [];
  const alternatives = new Map<string, RouteAlternative>();
  const loadOf = (id: string): Load | undefined => state.loads.get(id);
  const worksChannel = (a: Agent) => a.channels.length === 0 || a.channels.includes(channel);
  const why = (a: Agent, reason: string) => alternatives.set(a.id, { agentId: a.id, reason, share: loadOf(a.id)?.share });

  // 2. known agent
  if (!options.knownAgent.enabled) traces.push({ step: 'known_agent', outcome: 'skipped', reason: 'known-agent routing is off' });
  else if (!ask.knownAgent) traces.push({ step: 'known_agent', outcome: 'no_match', reason: 'no human agent handled this person before' });
  else {
    const known = state.agents.find((a) => a.id === ask.knownAgent!.agentId);
    const load = known && loadOf(known.id);
    const blocker = !known
      ? 'no longer on the roster'
      : known.status !== 'available'
        ? known.status
        : !worksChannel(known)
          ? `does not work ${channel}`
          : !load!.canTake(channel)
            ? `full (share ${fmt(load!.share)})`
            : undefined;
    if (known && !blocker) {
      traces.push({ step: 'known_agent', outcome: 'chosen', reason: `${known.id} last handled this person (${ask.knownAgent.via})` });
      for (const a of state.agents) if (a.id !== known.id) why(a, 'known agent preferred');
      return {
        agentId: known.id,
        step: 'known_agent',
        reason: `${known.id} handled this person before (${ask.knownAgent.via}) and is available with room for ${channel}`,
        confidence: 1,
        alternatives: [...alternatives.values()],
        traces,
      };
    }
    traces.push({ step: 'known_agent', outcome: 'no_match', reason: `known agent ${ask.knownAgent.agentId} ${blocker}` });
    if (known) why(known, `known agent, but ${blocker}`);
  }

  // 3. skills, language and capacity
  const aiBlock = !options.aiAgents
    ? 'AI agents are off'
    : c.wantsHuman
      ? 'AI excluded: wants a human'
      : c.sentiment === 'negative'
        ? 'AI excluded: negative sentiment'
        : undefined;
  const qualified: { agent: Agent; load: Load; level: number }[] = [];
  for (const a of state.agents) {
    if (alternatives.has(a.id)) continue;
    const load = loadOf(a.id)!;
    const threshold = a.aiConfidenceThreshold ?? options.aiConfidenceThreshold;
    const missing = ask.requiredSkills.find((s) => !(a.skills[s] >= 1));
    const blocker =
      a.status !== 'available'
        ? a.status
        : a.kind === 'ai' && aiBlock
          ? aiBlock
          : a.kind === 'ai' && c.confidence < threshold
            ? `AI excluded: confidence ${c.confidence.toFixed(2)} below its threshold ${threshold.toFixed(2)}`
            : !worksChannel(a)
              ? `does not work ${channel}`
              : c.language !== 'und' && a.languages.length > 0 && !a.languages.some((l) => languageMatches(l, c.language))
                ? `does not speak ${c.language}`
                : missing
                  ? `lacks skill ${missing}`
                  : !load.canTake(channel)
                    ? `full (share ${fmt(load.share)})`
                    : undefined;
    if (blocker) why(a, blocker);
    else qualified.push({ agent: a, load, level: ask.requiredSkills.reduce((sum, s) => sum + (a.skills[s] ?? 0), 0) });
  }
  qualified.sort((x, y) => x.load.share - y.load.share || y.level - x.level || (x.agent.id < y.agent.id ? -1 : x.agent.id > y.agent.id ? 1 : 0));
  const skillWords = ask.requiredSkills.length ? `skill ${ask.requiredSkills.join(' + ')}` : 'no particular skill';
  if (qualified.length) {
    const [chosen, ...rest] = qualified;
    for (const q of rest) why(q.agent, `more loaded or less skilled (share ${fmt(q.load.share)})`);
    const reason = `${chosen.agent.id} (${chosen.agent.kind}) is the least-loaded qualified agent: available, works ${channel}, ${c.language === 'und' ? 'any language' : `speaks ${c.language}`}, ${skillWords}, share ${fmt(chosen.load.share)}`;
    traces.push({ step: 'skills', outcome: 'chosen', reason });
    return { agentId: chosen.agent.id, step: 'skills', reason, confidence: c.confidence, alternatives: [...alternatives.values()], traces };
  }
  traces.push({ step: 'skills', outcome: 'no_match', reason: `no available agent with ${skillWords} and room for ${channel}` });
  return { agentId: null, step: 'fallback_queue', reason: '', confidence: c.confidence, alternatives: [...alternatives.values()], traces };
}

/** The skills an intent needs: configured, else the skill named like the intent when someone has it. */
export function requiredSkillsFor(intent: string, configured: Record<string, string | string[]>, agents: readonly Agent[]): string[] {
  const key = intent.toLowerCase();
  const given = configured[key] ?? configured[intent];
  if (given !== undefined) return (Array.isArray(given) ? given : [given]).map((s) => s.toLowerCase());
  if (key !== 'other' && agents.some((a) => (a.skills[key] ?? 0) >= 1)) return [key];
  return [];
}

// ---------------------------------------------------------------------------------------------
// The decision
// ---------------------------------------------------------------------------------------------

export function parseRouteOptions(options: unknown = {}): Options {
  return parseInput(RouteOptionsSchema, options ?? {}, 'route options');
}

/**
 * Decides where a message goes and, when the target is an agent, assigns the conversation atomically.
 * The decision (with its alternatives and per-step reasons) is recorded on the person's timeline as a
 * `route_decision` event whose id is returned. With an eventId, routing the same message again returns
 * the first decision and writes nothing.
 */
export async function routeMessage(ot: Omnithread, inputRaw: RouteInput, optionsRaw: RouteOptions = {}): Promise<RouteResult> {
  const input = parseInput(RouteInputSchema, inputRaw, 'route input');
  const options = parseRouteOptions(optionsRaw);
  const classification = input.classification as Classification;
  const now = options.now === undefined ? ot.now() : typeof options.now === 'number' ? options.now : Date.parse(options.now);
  const horizon = Math.max(options.answerFromHistory.maxAgeDays, options.knownAgent.maxAgeDays) * DAY;
  const context = await ot.routingContext(input.contactId, { since: now - horizon });
  const conversationId = input.conversationId ?? context.conversations.find((c) => c.status === 'open')?.id ?? null;
  const text = input.text || (input.eventId ? (context.messages.find((m) => m.id === input.eventId)?.text ?? '') : '');
  const steps: RouteStepTrace[] = [];

  // 4. priority (computed first: it is part of every decision, whichever step chooses)
  const priorityReasons: string[] = [];
  const vip = isVip(context.contact.attributes, options.vip.attributes);
  if (vip) priorityReasons.push(`VIP (${vip})`);
  if (classification.sentiment === 'negative') priorityReasons.push('negative sentiment');
  if (classification.urgency === 'high') priorityReasons.push('urgency high');
  const waiting = firstUnanswered(context.messages, conversationId);
  if (waiting) {
    const minutes = (now - Date.parse(waiting.occurredAt)) / MINUTE;
    if (minutes > options.maxWaitMinutes) priorityReasons.push(`waiting ${Math.floor(minutes)} min (over ${options.maxWaitMinutes})`);
  }
  const priority: RouteDecision['priority'] = priorityReasons.length >= 2 ? 'urgent' : priorityReasons.length === 1 ? 'high' : 'normal';
  const priorityTrace: RouteStepTrace = {
    step: 'priority',
    outcome: 'applied',
    reason: priorityReasons.length ? `${priority}: ${priorityReasons.join(', ')}` : 'normal: not a VIP, no negative sentiment, no high urgency, no long wait',
  };

  const base = { classification, priority, conversationId };
  const record = (decision: Omit<RouteResult, 'eventId' | 'duplicate' | 'assigned'>, assigned: boolean) => ({
    kind: ROUTE_DECISION_EVENT,
    text: `${decision.target.kind}${decision.target.agentId ? ` ${decision.target.agentId}` : decision.target.queue ? ` ${decision.target.queue}` : ''} (${decision.step}): ${decision.reason}`,
    channel: input.channel,
    data: { ...(input.eventId ? { messageEventId: input.eventId } : {}), assigned, decision } as Record<string, unknown>,
  });

  // 1. answer from history
  let earlier: EarlierAnswer | undefined;
  if (!options.answerFromHistory.enabled) steps.push({ step: 'answer_from_history', outcome: 'skipped', reason: 'answering from history is off' });
  else if (classification.wantsHuman) steps.push({ step: 'answer_from_history', outcome: 'skipped', reason: 'the customer asked for a human' });
  else if (classification.sentiment === 'negative' && options.answerFromHistory.skipWhenNegative)
    steps.push({ step: 'answer_from_history', outcome: 'skipped', reason: 'negative sentiment: a person answers, not a replayed answer' });
  else {
    earlier = text.trim()
      ? findEarlierAnswer(context.messages, text, {
          minSimilarity: options.answerFromHistory.minSimilarity,
          excludeEventId: input.eventId,
          since: now - options.answerFromHistory.maxAgeDays * DAY,
        })
      : undefined;
    if (!earlier) steps.push({ step: 'answer_from_history', outcome: 'no_match', reason: `no earlier answered question at least ${options.answerFromHistory.minSimilarity} alike` });
  }

  const humans = new Set<string>();
  const commit = await ot.routeConversation<Omit<RouteResult, 'eventId' | 'duplicate'>>({
    contactId: input.contactId,
    conversationId,
    channel: input.channel,
    idempotencyKey: input.eventId ? `route:${input.eventId}` : undefined,
    decide: (state) => {
      const trace = [...steps];
      if (earlier) {
        const reason = `the same question (similarity ${earlier.similarity.toFixed(2)}) was answered on ${earlier.channel} at ${earlier.at}`;
        trace.push({ step: 'answer_from_history', outcome: 'chosen', reason });
        trace.push(priorityTrace);
        const decision = {
          ...base,
          target: { kind: 'answer' as const },
          step: 'answer_from_history' as const,
          reason,
          confidence: Math.round(earlier.similarity * 1000) / 1000,
          alternatives: [],
          answer: { text: earlier.text, eventId: earlier.eventId, channel: earlier.channel, at: earlier.at },
          steps: trace,
        };
        return { agentId: null, event: record(decision, false), result: { ...decision, assigned: false } };
      }
      for (const a of state.agents) if (a.kind === 'human') humans.add(a.id);
      const known = options.knownAgent.enabled ? lastHumanAgent(context, humans, now - options.knownAgent.maxAgeDays * DAY) : undefined;
      const canAssign = state.conversation !== null && state.conversation.status === 'open';
      const pick = canAssign
        ? chooseAgent(state, { channel: input.channel, classification, options, knownAgent: known, requiredSkills: requiredSkillsFor(classification.intent, options.requiredSkills, state.agents) })
        : { agentId: null, step: 'fallback_queue' as const, reason: '', confidence: classification.confidence, alternatives: [], traces: [{ step: 'skills' as const, outcome: 'skipped' as const, reason: 'no open conversation to assign' }] };
      trace.push(...pick.traces, priorityTrace);
      if (pick.agentId) {
        const agent = state.agents.find((a) => a.id === pick.agentId)!;
        const decision = {
          ...base,
          target: { kind: agent.kind === 'ai' ? ('ai' as const) : ('human' as const), agentId: agent.id },
          step: pick.step,
          reason: pick.reason,
          confidence: pick.confidence,
          alternatives: pick.alternatives,
          steps: trace,
        };
        return { agentId: agent.id, event: record(decision, true), result: { ...decision, assigned: true } };
      }
      const queue = priority === 'normal' ? options.queue : `${options.queue}-priority`;
      const step: RouteStep = priority === 'normal' ? 'fallback_queue' : 'priority';
      const reason = `nobody available can take it: queued in ${queue}${priority === 'normal' ? '' : ` (${priorityTrace.reason})`}`;
      trace.push({ step: 'fallback_queue', outcome: 'chosen', reason });
      const decision = { ...base, target: { kind: 'queue' as const, queue }, step, reason, confidence: pick.confidence, alternatives: pick.alternatives, steps: trace };
      return { agentId: null, event: record(decision, false), result: { ...decision, assigned: false } };
    },
  });

  if (commit.duplicate || !commit.result) {
    const data = commit.event.data as { decision: Omit<RouteResult, 'eventId' | 'duplicate' | 'assigned'>; assigned?: boolean };
    return { ...data.decision, assigned: Boolean(data.assigned), eventId: commit.event.id, duplicate: true };
  }
  return { ...commit.result, eventId: commit.event.id, duplicate: false };
}
