/**
 * One signed delivery per channel, in the provider's documented format (the fixtures under
 * test/channels/fixtures, which cite their docs), with the settings a node needs to accept it. Both
 * engines' tests drive every channel through their real webhook path with these.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { metaSignature } from '../../shared';
import { twilioSignature, xSignature } from './signatures';

export interface ChannelDelivery {
  channel: string;
  /** Non-secret node settings. */
  settings: Record<string, string>;
  /** Secrets (n8n parameters, Node-RED credentials). */
  secrets: Record<string, string>;
  /** The raw body and headers, signed for `url` where the signature covers the URL (Twilio). */
  body: (url: string) => { body: string; headers: Record<string, string>; contentType: string };
  /** A handle the sender's contact must have afterwards (kind:value). */
  expectHandle: string;
  /** The status a forged signature gets. */
  refusedWith: 401 | 403;
}

const fixture = (path: string): string => readFileSync(join(__dirname, '..', 'channels', 'fixtures', path), 'utf8');

/** WhatsApp/Messenger/Instagram: messages must be recent enough for nothing; only the body is signed. */
export function meta(channel: string, path: string, expectHandle: string): ChannelDelivery {
  const appSecret = `${channel}-app-secret`;
  return {
    channel,
    settings: {},
    secrets: { appSecret, verifyToken: `${channel}-verify` },
    body: () => {
      const body = fixture(path);
      return { body, headers: { 'x-hub-signature-256': metaSignature(appSecret, body) }, contentType: 'application/json' };
    },
    expectHandle,
    refusedWith: 401,
  };
}

/** Twilio's X-Twilio-Signature: base64 HMAC-SHA1 over the URL then each parameter name and value, sorted by name. */
export function twilio(channel: 'sms' | 'voice', path: string): ChannelDelivery {
  const authToken = `${channel}-auth-token`;
  const publicUrl = `https://support.example.com/webhooks/${channel}`;
  return {
    channel,
    settings: { publicUrl },
    secrets: { authToken },
    body: () => {
      const params = JSON.parse(fixture(path)) as Record<string, string>;
      return { body: new URLSearchParams(params).toString(), headers: { 'x-twilio-signature': twilioSignature(authToken, publicUrl, params) }, contentType: 'application/x-www-form-urlencoded' };
    },
    expectHandle: 'phone:+447911123456',
    refusedWith: 403,
  };
}

/** A Telegram update from the fixtures, with the secret token header (settings: the bot id). */
export function telegram(path: string, botId = '123456789', extra: Record<string, string> = {}): ChannelDelivery {
  return {
    channel: 'telegram',
    settings: { botId, ...extra },
    secrets: { secretToken: 'telegram-secret-token' },
    body: () => ({ body: fixture(path), headers: { 'x-telegram-bot-api-secret-token': 'telegram-secret-token' }, contentType: 'application/json' }),
    expectHandle: '',
    refusedWith: 403,
  };
}

/** An X Account Activity delivery from the fixtures, signed with the consumer secret. */
export function x(path: string): ChannelDelivery {
  return {
    channel: 'x',
    settings: {},
    secrets: { consumerSecret: 'x-consumer-secret' },
    body: () => {
      const body = fixture(path);
      return { body, headers: { 'x-twitter-webhooks-signature': xSignature('x-consumer-secret', body) }, contentType: 'application/json' };
    },
    expectHandle: '',
    refusedWith: 401,
  };
}

export const CHANNEL_DELIVERIES: ChannelDelivery[] = [
  meta('whatsapp', 'whatsapp/text.json', 'phone:+447911123456'),
  meta('messenger', 'messenger/text-quick-reply.json', 'messenger_psid:1100200300:7001'),
  meta('instagram', 'instagram/batch.json', 'instagram_igsid:17841400000000001:9001'),
  { ...telegram('telegram/text.json'), expectHandle: 'telegram_user:123456789:5123456789' },
  twilio('sms', 'twilio/inbound-sms.json'),
  twilio('voice', 'twilio/incoming-call.json'),
  { ...x('x/dm.json'), expectHandle: 'x_user:1450000000000000001:3805104374' },
];

/** The same delivery with its signature header replaced by a forged one. */
export function forged(delivery: ReturnType<ChannelDelivery['body']>): ReturnType<ChannelDelivery['body']> {
  const headers = Object.fromEntries(Object.entries(delivery.headers).map(([k, v]) => [k, `${v.slice(0, -4)}AAAA`]));
  return { ...delivery, headers };
}
