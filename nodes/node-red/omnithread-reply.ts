/**
 * omnithread-reply: answers the person a msg is about, through the provider accounts chosen in the node
 * (one omnithread-channel config per channel), exactly once per answered message and reply key. All the
 * logic (channel choice, 24-hour windows, WhatsApp template, fallback, reservation) is shared/reply.ts;
 * this node maps its properties and msg overrides to a ReplyRequest and puts the ReplyResult in msg.payload.
 */
import { OmnithreadError, sendReply } from '../../shared';
import type { ReplyRequest, ReplyResult } from '../../shared';
import { ACCOUNTLESS_CHANNELS, REPLY_CHANNELS, compact, contactIdOf, fromMsg, fromNode, onOperation, replyAccountsOf, useStore } from './common';
import type { NodeDef, NodeMessage, NodeStatus, RedApi, RedNode } from './common';

interface ReplyDef extends NodeDef {
  store?: string;
  channel?: string;
  text?: string;
  mediaUrl?: string;
  mediaType?: string;
  templateName?: string;
  templateLanguage?: string;
  templateParameters?: string;
  fallback?: boolean;
  replyKey?: string;
  retryBudgetSeconds?: string | number;
  resendUnknown?: boolean;
  authorName?: string;
  authorType?: string;
  [channel: string]: unknown;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Template parameters typed in the editor: a JSON array, or one parameter per line (they may hold commas). */
function parametersOf(value: unknown): unknown {
  if (Array.isArray(value)) return value;
  if (typeof value !== 'string' || !value.trim()) return undefined;
  const text = value.trim();
  if (text.startsWith('[')) {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new OmnithreadError('INVALID_INPUT', `Template parameters are not a valid JSON array: ${(error as Error).message}`, { field: 'templateParameters' });
    }
  }
  return text.split('\n').map((p) => p.trim()).filter(Boolean);
}

/** Retry Budget typed in the editor (seconds); empty = the default. */
function budgetOf(value: unknown): number | undefined {
  if (value === undefined || value === null || String(value).trim() === '') return undefined;
  const seconds = Number(value);
  if (!Number.isFinite(seconds)) throw new OmnithreadError('INVALID_INPUT', `Retry Budget must be a number of seconds, not "${String(value)}"`, { field: 'retryBudgetSeconds' });
  return seconds;
}

/** The ReplyRequest for a msg: msg overrides first, then the node's settings. */
function replyRequestOf(msg: NodeMessage, def: ReplyDef): ReplyRequest {
  const payload = isRecord(msg.payload) ? msg.payload : {};
  const event = isRecord(payload.event) ? payload.event : undefined;
  const mediaUrl = fromMsg(msg, 'mediaUrl') ?? fromNode(def.mediaUrl);
  const media = fromMsg(msg, 'media') ?? (mediaUrl === undefined ? undefined : { url: mediaUrl, type: def.mediaType || 'image' });
  const templateName = fromMsg(msg, 'templateName') ?? fromNode(def.templateName);
  const whatsappTemplate =
    templateName === undefined
      ? undefined
      : compact({ name: templateName, language: fromNode(def.templateLanguage) ?? 'en', parameters: parametersOf(fromMsg(msg, 'templateParameters') ?? def.templateParameters) });
  const authorName = fromNode(def.authorName);
  return compact({
    contactId: contactIdOf(msg, undefined),
    inReplyTo: fromMsg(msg, 'inReplyTo') ?? (event && typeof event.id === 'string' ? event.id : undefined),
    channel: fromNode(def.channel) ?? 'same',
    text: fromMsg(msg, 'reply', true) ?? fromNode(def.text) ?? '',
    media,
    whatsappTemplate,
    fallback: def.fallback === undefined ? true : Boolean(def.fallback),
    replyKey: fromNode(def.replyKey),
    retryBudgetSeconds: budgetOf(def.retryBudgetSeconds),
    resendUnknown: fromMsg(msg, 'resendUnknown') === true || def.resendUnknown === true,
    author: compact({ name: authorName, type: fromNode(def.authorType) ?? 'ai' }),
  }) as ReplyRequest;
}

function replyStatus(result: ReplyResult): NodeStatus {
  if (result.duplicate) return { fill: 'grey', shape: 'dot', text: 'already sent' };
  if (result.via === 'fallback') return { fill: 'yellow', shape: 'dot', text: `fallback: ${result.channel}` };
  if (result.via === 'template') return { fill: 'green', shape: 'dot', text: `template on ${result.channel}` };
  return { fill: 'green', shape: 'dot', text: `sent on ${result.channel}` };
}

function register(RED: RedApi): void {
  function OmnithreadReply(this: RedNode, def: ReplyDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const omnithread = useStore(RED, node, def.store);

    onOperation(node, async (msg) => {
      const request = replyRequestOf(msg, def);
      const result = await sendReply(await omnithread, request, { channels: replyAccountsOf(RED, def) });
      return { payload: result, status: replyStatus(result) };
    });
  }

  RED.nodes.registerType('omnithread-reply', OmnithreadReply);
}

export = Object.assign(register, { REPLY_CHANNELS, ACCOUNTLESS_CHANNELS, replyRequestOf, replyStatus });
