/**
 * What a channel module is: it recognises a provider's handshake, checks that a delivery really comes from
 * the provider, and turns the delivery into Messages. The webhook handler (../webhook.ts) does the rest,
 * the same way for every channel and both engines.
 */
import type { AxiosInstance } from 'axios';
import type { z } from 'zod';
import type { MessageInput, StatusUpdateInput } from '../model';
import type { Omnithread } from '../omnithread';
import type { WebhookOutcome } from '../webhook';

/** An HTTP request as both engines can give it to us: the raw body bytes are what signatures cover. */
export interface WebhookRequest {
  method: string;
  /** Header names in lower case. */
  headers: Record<string, string | string[] | undefined>;
  query: Record<string, unknown>;
  rawBody: Buffer;
  /** The full public URL the provider called (some signatures cover it). */
  url?: string;
}

export interface WebhookReply {
  status: number;
  body: unknown;
  /**
   * Defaults to JSON; 'text' sends the body as text/plain (a verification challenge), 'xml' as text/xml
   * (TwiML), 'html' and 'javascript' are pages and scripts a channel serves (the web chat widget).
   */
  type?: 'json' | 'text' | 'xml' | 'html' | 'javascript';
  /** Extra response headers (CORS for the web chat widget, caching). */
  headers?: Record<string, string>;
}

/** What a channel serving content on its webhook URL (GET) gets besides the request. */
export interface ServeContext {
  ot: Omnithread;
  /** This webhook's public URL without the query: what a served page or script calls back. */
  endpoint: string;
}

export type Verification = { ok: true } | { ok: false; status: 401 | 403; reason: string };

/** What a parser may ask of the workspace besides its own settings. */
export interface ParseContext {
  /** True for our own addresses (the store settings' Own Addresses): mail from them is ours. */
  isOwnAddress(address: string): boolean;
}

/** What one delivery holds: customer messages (and calls), and statuses of things recorded earlier. */
export type InboundItem = { type: 'message'; message: MessageInput } | { type: 'status'; status: StatusUpdateInput };

/** What the Reply node asks a channel to send. */
export interface OutboundRequest {
  /** Where to: the `replyTo` the channel's parser put on the inbound message (chat id, wa_id, PSID...). */
  to: Record<string, unknown>;
  text: string;
  /** Media by URL, where the channel allows it. */
  media?: { url: string; type: 'image' | 'video' | 'audio' | 'document'; caption?: string; filename?: string };
  /** A pre-approved template (WhatsApp, outside the 24-hour window). */
  template?: { name: string; language: string; parameters?: string[] };
}

export interface SendResult {
  /** The provider's id of the sent message: recorded on the timeline, and what its statuses refer to. */
  providerMessageId: string;
  /** The provider's answer, for the flow. */
  response: unknown;
}

/** One setting of a channel, described for the engines' editors (both generate their fields from it). */
export interface SettingField {
  name: string;
  displayName: string;
  description: string;
  /** A secret: a password field in n8n, a credential in Node-RED. */
  secret?: boolean;
  type?: 'string' | 'boolean' | 'options';
  options?: readonly { name: string; value: string; description?: string }[];
  default?: string | boolean;
  required?: boolean;
  placeholder?: string;
}

export interface ChannelModule<Config = unknown> {
  /** The value of the trigger's Channel parameter. */
  readonly id: string;
  readonly displayName: string;
  readonly description: string;
  /** Validates the node's settings for this channel (secrets, names). */
  readonly configSchema: z.ZodType<Config, z.ZodTypeDef, unknown>;
  /** The names of those settings, which the nodes offer (shown when this channel is chosen). */
  readonly settings: readonly string[];
  /** The settings that are secrets: stored as credentials, never shown again. */
  readonly secrets: readonly string[];
  /** How the editors present the webhook settings and the send settings. */
  readonly settingFields?: readonly SettingField[];
  readonly sendFields?: readonly SettingField[];
  /** Answers a provider's verification handshake; undefined when the request is not one. */
  challenge?(request: WebhookRequest, config: Config): WebhookReply | undefined;
  /** Checks the signature or secret of a delivery. */
  verify(request: WebhookRequest, config: Config): Verification;
  /**
   * Turns a verified delivery into items; throws (or rejects with) INVALID_INPUT naming the field when it
   * is malformed. May be async (e.g. parsing MIME mail).
   */
  parse(request: WebhookRequest, config: Config, context?: ParseContext): InboundItem[] | Promise<InboundItem[]>;
  /**
   * Content served on the webhook URL for requests that are not deliveries (GET, OPTIONS): the web chat
   * widget script, its demo page, the visitor's reply feed, CORS preflights. Undefined = not served here.
   */
  serve?(request: WebhookRequest, config: Config, context: ServeContext): Promise<WebhookReply | undefined>;
  /** Headers added to every answer of this channel's webhook (CORS for a browser caller). */
  responseHeaders?(request: WebhookRequest, config: Config): Record<string, string> | undefined;
  /** The answer to an accepted delivery, when the provider expects something else than JSON (TwiML). */
  respond?(outcome: WebhookOutcome, config: Config): WebhookReply | undefined;
  /**
   * Sending: the settings it needs (token, account, API base URL) and the call. Errors are
   * OmnithreadErrors: AUTH_FAILED, RATE_LIMITED (details.retryAfterSeconds), WINDOW_CLOSED,
   * PROVIDER_ERROR (details: the provider's answer), INVALID_INPUT.
   */
  readonly sendConfigSchema?: z.ZodType<unknown, z.ZodTypeDef, unknown>;
  send?(request: OutboundRequest, sendConfig: unknown, http: AxiosInstance): Promise<SendResult>;
  /**
   * For providers that let us list what was sent: after a send whose outcome is unknown (a timeout, a
   * sender that died mid-send), whether the provider has this message since `since` (epoch ms). Returns
   * its id when found, null when the provider certainly has none (so it can be sent), undefined when it
   * cannot tell.
   */
  findSent?(request: OutboundRequest, sendConfig: unknown, http: AxiosInstance, since: number): Promise<string | null | undefined>;
}

export const header = (request: WebhookRequest, name: string): string | undefined => {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
};

/** A channel whose parser is synchronous (every provider but raw MIME mail): what its tests can rely on. */
export type SyncChannelModule<Config = unknown> = Omit<ChannelModule<Config>, 'parse'> & { parse(request: WebhookRequest, config: Config, context?: ParseContext): InboundItem[] };
