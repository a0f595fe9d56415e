/**
 * omnithread-channel (config node): one provider account that Omnithread can answer through (a WhatsApp
 * business number, a Facebook page, an Instagram account, a Telegram bot, a Twilio account, an X account,
 * an SMTP mailbox) and its send settings. Reply nodes pick one per channel; the settings are validated by the channel's
 * sendConfigSchema when a reply is sent (shared/reply.ts), so the error names the field.
 */
import { CHANNELS } from '../../shared';
import type { NodeDef, RedApi, RedNode } from './common';

/** The send settings that are secrets, over every channel: kept as credentials, never exported. */
const CHANNEL_SECRETS = ['accessToken', 'pageAccessToken', 'botToken', 'authToken', 'userAccessToken', 'password'] as const;

/**
 * The channels that need an account to send on (the choices of the Channel setting). Web chat sends with
 * no settings at all (the answer is recorded and the widget polls it), so it needs no account: the reply
 * node always offers it, and a config node without a single field would only be clutter.
 */
const SENDING_CHANNELS = Object.values(CHANNELS)
  .filter((c) => c.send && c.sendConfigSchema && (c.sendFields ?? []).length > 0)
  .map((c) => c.id);

/** What a reply node reads from a channel config. */
interface ChannelConfigNode extends RedNode {
  channel: string;
  /** The chosen channel's send settings: non-secrets from the node, secrets from its credentials; empty ones left out (module defaults apply). */
  sendConfig: Record<string, unknown>;
}

type ChannelDef = NodeDef & { channel?: string } & Record<string, unknown>;

const defaultOf = (channel: string, field: string): unknown => CHANNELS[channel]?.sendFields?.find((f) => f.name === field)?.default;

/** The send settings of the chosen channel, as its module names them. */
function sendConfigOf(channel: string, def: Record<string, unknown>, credentials: Record<string, string | undefined>): Record<string, unknown> {
  const fields = CHANNELS[channel]?.sendFields ?? [];
  const config: Record<string, unknown> = {};
  for (const field of fields) {
    const value = field.secret ? credentials[field.name] : def[field.name];
    if (value === undefined || value === null || value === '') continue;
    // A value still at another channel's default (the editor's, from before the channel was changed) is not a choice.
    const otherDefault = SENDING_CHANNELS.some((other) => other !== channel && defaultOf(other, field.name) === value);
    if (otherDefault && field.default !== value) continue;
    config[field.name] = typeof value === 'string' && !field.secret ? value.trim() : value;
  }
  return config;
}

function register(RED: RedApi): void {
  function OmnithreadChannel(this: ChannelConfigNode, def: ChannelDef): void {
    RED.nodes.createNode(this, def);
    this.channel = String(def.channel || '');
    this.sendConfig = sendConfigOf(this.channel, def, this.credentials ?? {});
    if (!SENDING_CHANNELS.includes(this.channel)) this.warn(`Omnithread cannot send on channel "${this.channel}": choose one of ${SENDING_CHANNELS.join(', ')}`);
  }

  RED.nodes.registerType('omnithread-channel', OmnithreadChannel, {
    credentials: {
      accessToken: { type: 'password' },
      pageAccessToken: { type: 'password' },
      botToken: { type: 'password' },
      authToken: { type: 'password' },
      userAccessToken: { type: 'password' },
      password: { type: 'password' },
    },
  });
}

/** The module is its init function (what Node-RED loads); the helpers ride on it for the reply node and tests. */
export = Object.assign(register, { CHANNEL_SECRETS, SENDING_CHANNELS, sendConfigOf });
