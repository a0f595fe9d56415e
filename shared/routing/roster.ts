/**
 * The agent roster: humans and AI agents alike, with skills (levels 1-5), languages, channels, a capacity
 * and what one conversation on each channel costs of it (one call fills an agent; five chats do).
 * Routing reads it; this module only stores it and says how loaded each agent is.
 *
 * The pure parts (schemas, channelCost, loadOf) hold no state; the store functions run inside a
 * transaction or read the facade hands them, always scoped by workspace.
 */
import { z } from 'zod';
import { OmnithreadError, invalidInput, notFound } from '../errors';
import { ChannelSchema, parseInput, toIso } from '../model';
import { SqlExecutor, SqlParam, inList } from '../store/driver';

export const AGENT_KINDS = ['human', 'ai'] as const;
export const AGENT_STATUSES = ['available', 'away', 'offline'] as const;
export const AgentKindSchema = z.enum(AGENT_KINDS);
export const AgentStatusSchema = z.enum(AGENT_STATUSES);
export type AgentKind = z.infer<typeof AgentKindSchema>;
export type AgentStatus = z.infer<typeof AgentStatusSchema>;

/** What one open conversation on a channel costs of a capacity of 100: a call fills an agent, five chats do, ten emails do. */
export const DEFAULT_CHANNEL_COSTS: Readonly<Record<string, number>> = Object.freeze({
  voice: 100,
  webchat: 20,
  whatsapp: 20,
  messenger: 20,
  instagram: 20,
  telegram: 20,
  sms: 20,
  x: 20,
  email: 10,
  generic: 20,
});
/** The default capacity, the scale DEFAULT_CHANNEL_COSTS are written in. */
export const DEFAULT_CAPACITY = 100;
/** The level a skill given only by name gets. */
export const DEFAULT_SKILL_LEVEL = 3;

export const AgentIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9._:@-]{1,128}$/, 'must be 1-128 letters, digits, ".", "_", ":", "@" or "-"');

const SkillNameSchema = z.string().trim().toLowerCase().min(1, 'must not be empty').max(64);
const SkillLevelSchema = z.number().int('must be a whole number').min(1, 'must be 1-5').max(5, 'must be 1-5');

/** Skills as `{ billing: 4 }`, or as names (`["billing"]`), each then at level 3. Names are lower-cased. */
export const SkillsSchema = z
  .union([z.array(SkillNameSchema).max(200), z.record(z.string(), SkillLevelSchema)])
  .transform((value, ctx) => {
    const out: Record<string, number> = {};
    if (Array.isArray(value)) {
      for (const name of value) out[name] = DEFAULT_SKILL_LEVEL;
      return out;
    }
    for (const [raw, level] of Object.entries(value)) {
      const name = raw.trim().toLowerCase();
      if (!name || name.length > 64) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: [raw], message: 'a skill name must be 1-64 characters' });
        continue;
      }
      out[name] = Math.max(out[name] ?? 0, level);
    }
    if (Object.keys(out).length > 200) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'at most 200 skills' });
    return out;
  });

/** A BCP-47-ish language tag (`en`, `pt-BR`, `zh_Hant`), stored lower-case with hyphens. */
export const LanguageSchema = z
  .string()
  .trim()
  .transform((s) => s.replace(/_/g, '-').toLowerCase())
  .pipe(z.string().regex(/^[a-z]{2,3}(-[a-z0-9]{1,8})*$/, 'must be a language code such as "en", "de" or "pt-br"').max(35));

const unique = <T>(values: T[]): T[] => [...new Set(values)];

export const AgentInputSchema = z
  .object({
    id: AgentIdSchema,
    /** Display name; the id when absent. */
    name: z.string().trim().min(1, 'must not be empty').max(256).optional(),
    kind: AgentKindSchema.default('human'),
    status: AgentStatusSchema.default('available'),
    skills: SkillsSchema.default({}),
    languages: z.array(LanguageSchema).max(50).default([]).transform(unique),
    /** Channels this agent works; empty means every channel. */
    channels: z.array(ChannelSchema).max(50).default([]).transform(unique),
    capacity: z.number().int('must be a whole number').min(1, 'must be 1-1000').max(1000, 'must be 1-1000').default(DEFAULT_CAPACITY),
    /** Overrides of DEFAULT_CHANNEL_COSTS for this agent (any channel id, custom ones too). */
    channelCosts: z.record(ChannelSchema, z.number().int('must be a whole number').min(0).max(1000)).default({}),
    attributes: z.record(z.string(), z.unknown()).default({}),
    /** AI agents only: below this classification confidence, the conversation goes to a human. */
    aiConfidenceThreshold: z.number().min(0, 'must be 0-1').max(1, 'must be 0-1').optional(),
  })
  .strict()
  .superRefine((agent, ctx) => {
    if (agent.aiConfidenceThreshold !== undefined && agent.kind !== 'ai') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['aiConfidenceThreshold'], message: 'only an AI agent (kind "ai") takes a confidence threshold' });
    }
  })
  .transform((agent) => ({ ...agent, name: agent.name ?? agent.id }));
export type AgentInput = z.input<typeof AgentInputSchema>;
type ParsedAgent = z.output<typeof AgentInputSchema>;

export interface Agent {
  id: string;
  workspace: string;
  name: string;
  kind: AgentKind;
  status: AgentStatus;
  skills: Record<string, number>;
  languages: string[];
  /** Empty means every channel. */
  channels: string[];
  capacity: number;
  /** Only this agent's overrides; channelCost() applies the defaults. */
  channelCosts: Record<string, number>;
  attributes: Record<string, unknown>;
  aiConfidenceThreshold: number | null;
  createdAt: string;
  updatedAt: string;
}

export const AgentFilterSchema = z
  .object({
    status: AgentStatusSchema.optional(),
    kind: AgentKindSchema.optional(),
    /** Agents holding this skill (at least minLevel, default 1). */
    skill: SkillNameSchema.optional(),
    minLevel: SkillLevelSchema.optional(),
    /** Agents speaking this language; `en` and `en-gb` match each other. */
    language: LanguageSchema.optional(),
    /** Agents working this channel (an agent with no channels works every one). */
    channel: ChannelSchema.optional(),
  })
  .strict();
export type AgentFilter = z.input<typeof AgentFilterSchema>;

/** An import: an array of agents, or `{ agents: [...] }` (the shape of an exported roster file). */
export const RosterImportSchema = z.union([z.array(z.unknown()), z.object({ agents: z.array(z.unknown()) }).passthrough()]);

// ---------------------------------------------------------------------------------------------
// Pure functions
// ---------------------------------------------------------------------------------------------

/** What one conversation on `channel` costs of this agent's capacity: its override, the default, else generic's. */
export function channelCost(agent: Pick<Agent, 'channelCosts'>, channel: string | null | undefined): number {
  const id = channel ?? 'generic';
  return agent.channelCosts[id] ?? DEFAULT_CHANNEL_COSTS[id] ?? DEFAULT_CHANNEL_COSTS.generic;
}

export interface Load {
  /** Capacity taken by the open conversations. */
  used: number;
  capacity: number;
  /** used / capacity: 0 is idle, 1 is full (it can exceed 1 when assignments ignored capacity). */
  share: number;
  /**
   * Whether one more conversation on `channel` fits in the capacity left. Capacity only: whether the agent
   * works that channel, or is available, is for the caller to check.
   */
  canTake(channel: string): boolean;
}

/** The load of an agent given its open assignments (a conversation with no channel yet costs as generic). */
export function loadOf(agent: Pick<Agent, 'capacity' | 'channelCosts'>, openAssignments: readonly { channel: string | null | undefined }[]): Load {
  const used = openAssignments.reduce((sum, a) => sum + channelCost(agent, a.channel), 0);
  const load = { used, capacity: agent.capacity, share: agent.capacity > 0 ? used / agent.capacity : 1 } as Load;
  // Not enumerable: a load stays plain data when a node outputs it as JSON.
  Object.defineProperty(load, 'canTake', { value: (channel: string) => used + channelCost(agent, channel) <= agent.capacity, enumerable: false });
  return load;
}

/** `en` matches `en-gb` and the other way round; `pt-br` does not match `pt-pt`. */
export function languageMatches(spoken: string, wanted: string): boolean {
  return spoken === wanted || spoken.startsWith(`${wanted}-`) || wanted.startsWith(`${spoken}-`);
}

export function agentMatches(agent: Agent, filter: z.output<typeof AgentFilterSchema>): boolean {
  if (filter.status && agent.status !== filter.status) return false;
  if (filter.kind && agent.kind !== filter.kind) return false;
  if (filter.skill && (agent.skills[filter.skill] ?? 0) < (filter.minLevel ?? 1)) return false;
  if (filter.language && !agent.languages.some((l) => languageMatches(l, filter.language!))) return false;
  if (filter.channel && agent.channels.length > 0 && !agent.channels.includes(filter.channel)) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Store
// ---------------------------------------------------------------------------------------------

interface AgentRow {
  [column: string]: unknown;
  id: string;
  name: string;
  kind: AgentKind;
  status: AgentStatus;
  skills: string;
  languages: string;
  channels: string;
  capacity: number;
  channel_costs: string;
  attributes: string;
  ai_confidence_threshold: string | null;
  created_at: number;
  updated_at: number;
}

const agentFromRow = (workspace: string, row: AgentRow): Agent => ({
  id: row.id,
  workspace,
  name: row.name,
  kind: row.kind,
  status: row.status,
  skills: JSON.parse(row.skills) as Record<string, number>,
  languages: JSON.parse(row.languages) as string[],
  channels: JSON.parse(row.channels) as string[],
  capacity: Number(row.capacity),
  channelCosts: JSON.parse(row.channel_costs) as Record<string, number>,
  attributes: JSON.parse(row.attributes) as Record<string, unknown>,
  aiConfidenceThreshold: row.ai_confidence_threshold === null ? null : Number(row.ai_confidence_threshold),
  createdAt: toIso(Number(row.created_at)),
  updatedAt: toIso(Number(row.updated_at)),
});

export function parseAgent(input: unknown): ParsedAgent {
  return parseInput(AgentInputSchema, input, 'agent');
}

/**
 * Validates a whole import before anything is written: the first bad entry (or every one) is named by
 * index and field, `2.capacity`, whether the agents came as an array or as `{ agents: [...] }`.
 */
export function parseRosterImport(input: unknown): ParsedAgent[] {
  const outer = parseInput(RosterImportSchema, input, 'roster import (an array of agents, or { agents: [...] })');
  const entries = Array.isArray(outer) ? outer : outer.agents;
  const result = z.array(AgentInputSchema).max(10_000).safeParse(entries);
  if (!result.success) throw invalidInput('roster import', result.error);
  const seen = new Map<string, number>();
  result.data.forEach((agent, index) => {
    const first = seen.get(agent.id);
    if (first !== undefined) {
      throw new OmnithreadError('INVALID_INPUT', `Invalid roster import: ${index}.id: "${agent.id}" appears twice (also at ${first})`, {
        field: `${index}.id`,
        details: [{ field: `${index}.id`, message: `duplicate of entry ${first}` }],
      });
    }
    seen.set(agent.id, index);
  });
  return result.data;
}

export async function getAgent(db: SqlExecutor, workspace: string, id: string): Promise<Agent | undefined> {
  const row = await db.get<AgentRow>('SELECT * FROM agents WHERE workspace = ? AND id = ?', [workspace, id]);
  return row ? agentFromRow(workspace, row) : undefined;
}

/** Inserts or replaces an agent (every field from the input, defaults filled); created_at is kept. */
export async function upsertAgent(db: SqlExecutor, workspace: string, agent: ParsedAgent, now: number): Promise<Agent> {
  await db.run(
    `INSERT INTO agents (workspace, id, name, kind, status, skills, languages, channels, capacity, channel_costs, attributes, ai_confidence_threshold, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (workspace, id) DO UPDATE SET
       name = excluded.name, kind = excluded.kind, status = excluded.status, skills = excluded.skills,
       languages = excluded.languages, channels = excluded.channels, capacity = excluded.capacity,
       channel_costs = excluded.channel_costs, attributes = excluded.attributes,
       ai_confidence_threshold = excluded.ai_confidence_threshold, updated_at = excluded.updated_at`,
    [
      workspace,
      agent.id,
      agent.name,
      agent.kind,
      agent.status,
      JSON.stringify(agent.skills),
      JSON.stringify(agent.languages),
      JSON.stringify(agent.channels),
      agent.capacity,
      JSON.stringify(agent.channelCosts),
      JSON.stringify(agent.attributes),
      agent.aiConfidenceThreshold === undefined ? null : String(agent.aiConfidenceThreshold),
      now,
      now,
    ],
  );
  return (await getAgent(db, workspace, agent.id))!;
}

export async function listAgents(db: SqlExecutor, workspace: string, filter: z.output<typeof AgentFilterSchema> = {}): Promise<Agent[]> {
  const where = ['workspace = ?'];
  const params: SqlParam[] = [workspace];
  if (filter.status) {
    where.push('status = ?');
    params.push(filter.status);
  }
  if (filter.kind) {
    where.push('kind = ?');
    params.push(filter.kind);
  }
  const rows = await db.all<AgentRow>(`SELECT * FROM agents WHERE ${where.join(' AND ')} ORDER BY id`, params);
  // Skills, languages and channels are JSON: filtered here, the same way on both dialects.
  return rows.map((row) => agentFromRow(workspace, row)).filter((agent) => agentMatches(agent, filter));
}

export async function setAgentStatus(db: SqlExecutor, workspace: string, id: string, status: AgentStatus, now: number): Promise<Agent> {
  const changed = await db.run('UPDATE agents SET status = ?, updated_at = ? WHERE workspace = ? AND id = ?', [status, now, workspace, id]);
  if (!changed) throw notFound('Agent', id);
  return (await getAgent(db, workspace, id))!;
}

/** Removes an agent; false when there was none. Conversations assigned to it keep the id (history). */
export async function removeAgent(db: SqlExecutor, workspace: string, id: string): Promise<boolean> {
  return (await db.run('DELETE FROM agents WHERE workspace = ? AND id = ?', [workspace, id])) > 0;
}

export interface AgentLoad extends Load {
  agentId: string;
  status: AgentStatus;
  /** How many open conversations are assigned to the agent. */
  openConversations: number;
}

/**
 * Current load of agents (all of them, or those named; unknown ids are left out), derived from the
 * workspace's OPEN conversations assigned to each, each costing by its last channel.
 */
export async function agentLoads(db: SqlExecutor, workspace: string, agentIds?: readonly string[]): Promise<AgentLoad[]> {
  if (agentIds && agentIds.length === 0) return [];
  const only = agentIds ? ` AND id IN (${inList(agentIds)})` : '';
  const rows = await db.all<AgentRow>(`SELECT * FROM agents WHERE workspace = ?${only} ORDER BY id`, [workspace, ...(agentIds ?? [])]);
  if (!rows.length) return [];
  const agents = rows.map((row) => agentFromRow(workspace, row));
  const ids = agents.map((a) => a.id);
  const open = await db.all<{ assigned_agent_id: string; last_channel: string | null }>(
    `SELECT assigned_agent_id, last_channel FROM conversations
      WHERE workspace = ? AND status = 'open' AND assigned_agent_id IN (${inList(ids)})`,
    [workspace, ...ids],
  );
  const byAgent = new Map<string, { channel: string | null }[]>();
  for (const row of open) {
    const list = byAgent.get(row.assigned_agent_id) ?? [];
    list.push({ channel: row.last_channel });
    byAgent.set(row.assigned_agent_id, list);
  }
  return agents.map((agent) => {
    const assigned = byAgent.get(agent.id) ?? [];
    const load = loadOf(agent, assigned);
    const out = { agentId: agent.id, status: agent.status, openConversations: assigned.length, used: load.used, capacity: load.capacity, share: load.share } as AgentLoad;
    Object.defineProperty(out, 'canTake', { value: load.canTake, enumerable: false });
    return out;
  });
}
