/**
 * The transcript: a person's history as text for an agent or an LLM prompt, within a token budget.
 * The current conversation is given in full (newest messages kept first when it does not fit), earlier
 * conversations are condensed to one line each, newest first, while the budget lasts.
 */
import { z } from 'zod';
import { ContactView, Conversation, TimelineEvent } from '../model';
import { describeHandle } from '../identity/resolve';

export const TranscriptOptionsSchema = z
  .object({
    /** Budget in tokens, estimated at 4 characters a token (close for English with GPT-style tokenisers). */
    maxTokens: z.number().int().min(50).max(200_000).default(2000),
    /** Longest text of one message line, in characters, so one long email cannot eat the budget. */
    maxMessageChars: z.number().int().min(40).max(50_000).default(1200),
  })
  .strict();
export type TranscriptOptions = z.input<typeof TranscriptOptionsSchema>;

export interface TranscriptConversation {
  id: string;
  status: Conversation['status'];
  channels: string[];
  openedAt: string;
  lastActivityAt: string;
  messageCount: number;
  /** How it appears in the transcript: 'full', 'partial', 'summary' or 'omitted' (out of budget). */
  shown: 'full' | 'partial' | 'summary' | 'omitted';
}

export interface Transcript {
  contactId: string;
  text: string;
  estimatedTokens: number;
  maxTokens: number;
  /** The most recently active conversation of the current episode. */
  currentConversationId: string | null;
  conversations: TranscriptConversation[];
  /** Events of the current conversation left out to fit the budget. */
  omittedEvents: number;
}

export const estimateTokens = (text: string): number => Math.ceil(text.length / 4);

const stamp = (iso: string): string => iso.slice(0, 16).replace('T', ' ');

function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function speaker(event: TimelineEvent): string {
  if (event.direction === 'inbound') return 'Customer';
  const author = event.data.author as { name?: string; type?: string } | undefined;
  const role = author?.type === 'ai' ? 'AI agent' : author?.type === 'system' ? 'System' : 'Agent';
  return author?.name ? `${role} (${author.name})` : role;
}

/** One line per event, or undefined for events a reader does not need. */
export function eventLine(event: TimelineEvent, maxChars: number): string | undefined {
  const where = event.channel ? ` ${event.channel}` : '';
  const head = `[${stamp(event.occurredAt)}${where}]`;
  switch (event.kind) {
    case 'message': {
      const attachments = Array.isArray(event.data.attachments) ? (event.data.attachments as unknown[]).length : 0;
      const extra = attachments ? ` (+${attachments} attachment${attachments > 1 ? 's' : ''})` : '';
      return `${head} ${speaker(event)}: ${clip(event.text, maxChars)}${extra}`;
    }
    case 'call':
      return `${head} ${event.direction === 'outbound' ? 'We called the customer' : 'The customer called'}${event.text ? `: ${clip(event.text, maxChars)}` : ''}`;
    case 'interaction':
      // A button pressed is something the customer did, not something they said.
      return `${head} The customer pressed a button: ${clip(event.text, maxChars)}`;
    case 'conversation_reopened':
      return `${head} -- the customer answered in this conversation's thread: it was reopened`;
    case 'status':
      // Deliveries and reads are noise for a reader; a failure is not.
      return event.data.status === 'failed' ? `${head} -- our message could not be delivered` : undefined;
    case 'channel_switch':
      return `${head} -- the customer moved from ${String(event.data.from)} to ${String(event.data.to)}`;
    case 'merge':
      return undefined;
    default:
      return `${head} (${event.kind})${event.text ? ` ${clip(event.text, maxChars)}` : ''}`;
  }
}

function summaryLine(conversation: Conversation, messages: TimelineEvent[], maxChars: number): string {
  const firstIn = messages.find((e) => e.direction === 'inbound');
  const last = messages[messages.length - 1];
  const span = `${stamp(conversation.openedAt).slice(0, 10)} to ${stamp(conversation.lastActivityAt).slice(0, 10)}`;
  const parts = [`- ${span}, ${conversation.channels.join(' -> ') || 'no channel'}, ${messages.length} messages, ${conversation.status}`];
  const quote = Math.max(40, Math.floor(maxChars / 6));
  if (firstIn) parts.push(`asked: "${clip(firstIn.text, quote)}"`);
  if (last && last !== firstIn) parts.push(`last (${speaker(last).toLowerCase()}): "${clip(last.text, quote)}"`);
  return parts.join('; ');
}

/**
 * Builds the transcript from a contact, its conversations (any order) and its events (chronological).
 */
export function buildTranscript(
  contact: ContactView,
  conversations: readonly Conversation[],
  events: readonly TimelineEvent[],
  options: TranscriptOptions = {},
): Transcript {
  const { maxTokens, maxMessageChars } = TranscriptOptionsSchema.parse(options);
  const budget = maxTokens * 4; // in characters
  const byRecent = [...conversations].sort((a, b) => b.lastActivityAt.localeCompare(a.lastActivityAt));
  // The current episode: every open conversation (two contacts merged while both were talking to us
  // leave two open ones), or else the latest one.
  const open = byRecent.filter((c) => c.status === 'open');
  const currentSet = open.length ? open : byRecent.slice(0, 1);
  const current = currentSet[0];
  const currentIds = new Set(currentSet.map((c) => c.id));

  const who = contact.name ? `${contact.name} (${contact.id})` : contact.id;
  const identities = contact.identities.map((i) => `${describeHandle(i)} [${i.trust}]`).join(', ');
  const header = [`Customer: ${who}`, identities ? `Known as: ${identities}` : undefined].filter(Boolean).join('\n');
  let used = header.length + 1;

  const shown = new Map<string, TranscriptConversation['shown']>();
  const sections: string[] = [];
  let omittedEvents = 0;

  if (current) {
    const openedAt = currentSet.map((c) => c.openedAt).sort()[0];
    const opened = Date.parse(openedAt);
    const currentEvents = events.filter(
      (e) => (e.conversationId !== null && currentIds.has(e.conversationId)) || (e.conversationId === null && Date.parse(e.occurredAt) >= opened),
    );
    const lines = currentEvents.map((e) => eventLine(e, maxMessageChars)).filter((l): l is string => l !== undefined);
    const channels = [...new Set(currentEvents.filter((e) => e.kind === 'message' && e.channel).map((e) => e.channel as string))];
    const title = `Current conversation (${current.status}, since ${stamp(openedAt)}, channels: ${channels.join(' -> ') || 'none yet'}):`;
    used += title.length + 1;
    const kept: string[] = [];
    for (let i = lines.length - 1; i >= 0; i--) {
      const cost = lines[i].length + 1;
      if (used + cost > budget) break;
      kept.unshift(lines[i]);
      used += cost;
    }
    omittedEvents = lines.length - kept.length;
    if (omittedEvents) {
      const note = `(${omittedEvents} earlier message${omittedEvents > 1 ? 's' : ''} of this conversation left out to fit the budget)`;
      kept.unshift(note);
      used += note.length + 1;
    }
    sections.push([title, ...kept].join('\n'));
    for (const id of currentIds) shown.set(id, omittedEvents ? 'partial' : 'full');
  }

  const earlier = byRecent.filter((c) => !currentIds.has(c.id));
  if (earlier.length) {
    const title = 'Earlier conversations (newest first):';
    const lines: string[] = [];
    let spent = title.length + 1;
    for (const conversation of earlier) {
      const messages = events.filter((e) => e.conversationId === conversation.id && e.kind === 'message');
      const line = summaryLine(conversation, messages, maxMessageChars);
      if (used + spent + line.length + 1 > budget) {
        shown.set(conversation.id, 'omitted');
        continue;
      }
      lines.push(line);
      spent += line.length + 1;
      shown.set(conversation.id, 'summary');
    }
    if (lines.length) {
      sections.push([title, ...lines].join('\n'));
      used += spent;
    }
  }

  const text = [header, ...sections].join('\n\n');
  return {
    contactId: contact.id,
    text,
    estimatedTokens: estimateTokens(text),
    maxTokens,
    currentConversationId: current?.id ?? null,
    conversations: byRecent.map((c) => ({
      id: c.id,
      status: c.status,
      channels: c.channels,
      openedAt: c.openedAt,
      lastActivityAt: c.lastActivityAt,
      messageCount: c.messageCount,
      shown: shown.get(c.id) ?? 'omitted',
    })),
    omittedEvents,
  };
}
