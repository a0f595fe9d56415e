/**
 * What a channel module is: it recognises a provider's handshake, checks that a delivery really comes from
 * the provider, and turns the delivery into Messages. The webhook handler (../webhook.ts) does the rest,
 * the same way for every channel and both engines.
 */
import type { z } from 'zod';
import type { MessageInput } from '../model';

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
  /** Defaults to JSON; 'text' sends the body as text/plain (e.g. a verification challenge). */
  type?: 'json' | 'text';
}

export type Verification = { ok: true } | { ok: false; status: 401 | 403; reason: string };

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
  /** Answers a provider's verification handshake; undefined when the request is not one. */
  challenge?(request: WebhookRequest, config: Config): WebhookReply | undefined;
  /** Checks the signature or secret of a delivery. */
  verify(request: WebhookRequest, config: Config): Verification;
  /** Turns a verified delivery into messages; throws INVALID_INPUT naming the field when it is malformed. */
  parse(request: WebhookRequest, config: Config): MessageInput[];
}

export const header = (request: WebhookRequest, name: string): string | undefined => {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
};
