/**
 * The shapes routing passes between its parts: what classification says about a message, and what a
 * route decision is. Classification (classify.ts), the route steps (route.ts) and the handoff packet
 * (handoff.ts) all speak these, so each can be built and tested on its own.
 */
import { z } from 'zod';

export const SentimentSchema = z.enum(['negative', 'neutral', 'positive']);
export const UrgencySchema = z.enum(['low', 'normal', 'high']);
export type Sentiment = z.infer<typeof SentimentSchema>;
export type Urgency = z.infer<typeof UrgencySchema>;

/** What classification says about one customer message. */
export interface Classification {
  /** The user-defined intent that matched (e.g. "billing"), or "other". */
  intent: string;
  /** BCP-47-ish language code, lower case ("en", "de", "pt-br"), or "und" when unknown. */
  language: string;
  sentiment: Sentiment;
  urgency: Urgency;
  /** 0..1: how sure the classifier is of the intent. */
  confidence: number;
  /** The customer asked for a person ("talk to a human", "agent please"): never routed to an AI agent. */
  wantsHuman: boolean;
  /** Which classifier answered. */
  source: 'rules' | 'llm' | 'chat-model';
  /** Set when an LLM was asked but the built-in rules answered instead, and why (timeout, 500, bad JSON). */
  fallback?: { from: 'llm' | 'chat-model'; reason: string };
  /** Why, in words and by rule: which keywords or patterns matched. */
  reasons: string[];
}

/** The kinds of target a route decision can have: the n8n node has one output per kind. */
export const ROUTE_TARGET_KINDS = ['ai', 'human', 'queue', 'answer'] as const;
export type RouteTargetKind = (typeof ROUTE_TARGET_KINDS)[number];

/** The ordered steps of a route decision (DESIGN.md, Routing). */
export const ROUTE_STEPS = ['answer_from_history', 'known_agent', 'skills', 'priority', 'fallback_queue'] as const;
export type RouteStep = (typeof ROUTE_STEPS)[number];

export interface RouteAlternative {
  agentId: string;
  /** Why it was not chosen: "offline", "full (share 1.00)", "lacks skill billing", "AI excluded: wants a human"... */
  reason: string;
  /** Its load share when it was considered. */
  share?: number;
}

export interface RouteDecision {
  target: { kind: RouteTargetKind; agentId?: string; queue?: string };
  step: RouteStep;
  reason: string;
  confidence: number;
  classification: Classification;
  alternatives: RouteAlternative[];
  /** For `answer`: the earlier answer, and the event it was given in. */
  answer?: { text: string; eventId: string; channel: string; at: string };
  priority: 'normal' | 'high' | 'urgent';
  conversationId: string | null;
  /** The `route_decision` event recorded on the timeline. */
  eventId?: string;
}
