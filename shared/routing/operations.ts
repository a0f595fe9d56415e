/**
 * What the AI Route, Handoff and roster operations of both engines' nodes do, once: each node maps its
 * parameters (n8n) or properties and msg (Node-RED) to one of these operations and emits the result.
 * The n8n node and its Node-RED twin therefore differ only in how they read settings and branch outputs.
 */
import type { AxiosInstance } from 'axios';
import { z } from 'zod';
import { ChannelSchema, parseInput } from '../model';
import type { Omnithread } from '../omnithread';
import { classify, type ChatModelLike, type ClassifierRulesInput, LlmSettingsSchema } from './classify';
import { acceptHandoff, escalateExpiredOffers, handOff, handoffState, releaseHandoff, resolveHandoff, type EscalateResult } from './handoff';
import { parseRouteOptions, routeMessage, type RouteOptions, type RouteResult } from './route';
import type { AgentInput } from './roster';
import type { Classification, RouteTargetKind } from './types';

// ---------------------------------------------------------------------------------------------
// AI Route: classify, then route
// ---------------------------------------------------------------------------------------------

export const RouteRequestSchema = z
  .object({
    contactId: z.string().trim().min(1, 'needs the contact id'),
    conversationId: z.string().trim().min(1).optional(),
    /** The message being routed (the trigger's event.id): makes routing idempotent. */
    eventId: z.string().trim().min(1).optional(),
    text: z.string().max(200_000).default(''),
    channel: ChannelSchema,
    /** The channel's or the contact's language, when known: wins over detection. */
    language: z.string().trim().max(35).optional(),
    /** Intent rules, patterns and word lists for the built-in classifier (ClassifierRulesSchema). */
    rules: z.unknown().optional(),
    /** An OpenAI-compatible chat-completions API; without it (and without a chat model) the rules answer. */
    llm: LlmSettingsSchema.optional(),
    /** Route steps' settings (RouteOptionsSchema). */
    options: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();
export type RouteRequest = z.input<typeof RouteRequestSchema>;

export interface RouteOperationResult extends RouteResult {
  /** Which output of the node this goes to. */
  output: RouteTargetKind;
  /** Set when this message found an offer on its conversation that nobody accepted in time, and moved it on. */
  escalation?: EscalateResult;
}

/** Classifies the message (chat model, else LLM, else rules; a failed model falls back and says so), then routes it. */
export async function runRoute(ot: Omnithread, input: RouteRequest, extra: { chatModel?: ChatModelLike; http?: AxiosInstance } = {}): Promise<RouteOperationResult> {
  const request = parseInput(RouteRequestSchema, input, 'route request');
  const classification: Classification = await classify(request.text, {
    rules: request.rules as ClassifierRulesInput | undefined,
    ...(request.llm ? { llm: request.llm } : {}),
    ...(extra.chatModel ? { chatModel: extra.chatModel } : {}),
    ...(extra.http ? { http: extra.http } : {}),
    ...(request.language ? { hints: { language: request.language } } : {}),
  });
  // Every setting is checked before anything is written. Then: the next event of a conversation is one of
  // the moments an expired handoff offer is seen and moved on to the next agent (the Handoff node's
  // Escalate operation, run on a schedule, is the other).
  parseRouteOptions(request.options as RouteOptions);
  const escalation = await escalateOnNextEvent(ot, request.contactId, request.conversationId);
  const result = await routeMessage(
    ot,
    {
      contactId: request.contactId,
      ...(request.conversationId ? { conversationId: request.conversationId } : {}),
      ...(request.eventId ? { eventId: request.eventId } : {}),
      text: request.text,
      channel: request.channel,
      classification,
    },
    request.options as RouteOptions,
  );
  return { ...result, output: result.target.kind, ...(escalation ? { escalation } : {}) };
}

async function escalateOnNextEvent(ot: Omnithread, contactId: string, conversationId: string | undefined): Promise<EscalateResult | undefined> {
  const open = conversationId ?? (await ot.conversations(contactId)).find((c) => c.status === 'open')?.id;
  if (!open) return undefined;
  const state = await handoffState(ot, open);
  if (state?.status !== 'offered' || !state.expiresAt || ot.now() <= Date.parse(state.expiresAt)) return undefined;
  return escalateExpiredOffers(ot, { conversationId: open, nextCandidate: async (excluded) => leastLoadedHuman(ot, excluded) });
}

// ---------------------------------------------------------------------------------------------
// Handoff and roster
// ---------------------------------------------------------------------------------------------

export const HANDOFF_OPERATIONS = ['handOff', 'accept', 'release', 'resolve', 'escalate', 'state'] as const;
export const ROSTER_OPERATIONS = ['upsertAgent', 'setStatus', 'listAgents', 'getAgent', 'removeAgent', 'importRoster', 'loads'] as const;
export type HandoffOperation = (typeof HANDOFF_OPERATIONS)[number];
export type RosterOperation = (typeof ROSTER_OPERATIONS)[number];

const record = z.record(z.string(), z.unknown());

/** One handoff operation; `input` is that operation's input (see handoff.ts). */
export async function runHandoffOperation(
  ot: Omnithread,
  operation: HandoffOperation,
  input: Record<string, unknown>,
  extra: { nextCandidate?: (excluded: string[]) => Promise<string | undefined> } = {},
): Promise<unknown> {
  const args = parseInput(record, input, `${operation} input`);
  switch (operation) {
    case 'handOff':
      return handOff(ot, args as Parameters<typeof handOff>[1]);
    case 'accept':
      return acceptHandoff(ot, args as Parameters<typeof acceptHandoff>[1]);
    case 'release':
      return releaseHandoff(ot, args as Parameters<typeof releaseHandoff>[1]);
    case 'resolve':
      return resolveHandoff(ot, args as Parameters<typeof resolveHandoff>[1]);
    case 'escalate':
      return escalateExpiredOffers(ot, {
        ...(args as { conversationId: string }),
        // By default the next candidate is whoever the roster's least loaded available human is, not yet offered.
        nextCandidate: extra.nextCandidate ?? (async (excluded) => leastLoadedHuman(ot, excluded)),
      } as Parameters<typeof escalateExpiredOffers>[1]);
    case 'state':
      return handoffState(ot, String(args.conversationId ?? ''));
  }
}

async function leastLoadedHuman(ot: Omnithread, excluded: readonly string[]): Promise<string | undefined> {
  const roster = ot.roster();
  const humans = (await roster.list({ status: 'available', kind: 'human' })).filter((a) => !excluded.includes(a.id));
  if (!humans.length) return undefined;
  const loads = new Map((await roster.loads(humans.map((a) => a.id))).map((l) => [l.agentId, l.share]));
  return [...humans].sort((a, b) => (loads.get(a.id) ?? 0) - (loads.get(b.id) ?? 0) || a.id.localeCompare(b.id))[0]?.id;
}

/** One roster operation; `input` is the agent, the filter, the status change or the import. */
export async function runRosterOperation(ot: Omnithread, operation: RosterOperation, input: Record<string, unknown>): Promise<unknown> {
  const roster = ot.roster();
  switch (operation) {
    case 'upsertAgent':
      return roster.upsert((input.agent ?? input) as AgentInput);
    case 'setStatus':
      return roster.setStatus(String(input.agentId ?? input.id ?? ''), input.status as never);
    case 'listAgents':
      return roster.list((input.filter ?? {}) as never);
    case 'getAgent':
      return (await roster.get(String(input.agentId ?? input.id ?? ''))) ?? null;
    case 'removeAgent':
      return { removed: await roster.remove(String(input.agentId ?? input.id ?? '')) };
    case 'importRoster':
      return roster.import(input.roster ?? input.agents ?? input);
    case 'loads':
      return roster.loads(Array.isArray(input.agentIds) ? (input.agentIds as string[]) : undefined);
  }
}
