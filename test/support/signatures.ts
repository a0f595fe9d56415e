/**
 * The providers' webhook signatures, computed here from their documentation, independently of the
 * modules that check them (shared/channels): a test signs a delivery as the provider does.
 */
import { createHmac } from 'node:crypto';

/**
 * Meta's X-Hub-Signature-256 (WhatsApp, Messenger, Instagram): sha256= and the hex HMAC-SHA256 of the raw
 * body with the app secret. The generic channel's X-Omnithread-Signature is the same with its secret.
 */
export const hubSignature = (secret: string, body: string | Buffer): string => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

/** X's x-twitter-webhooks-signature, and the CRC's response_token: sha256= and the base64 HMAC-SHA256 with the consumer secret. */
export const xSignature = (consumerSecret: string, data: string | Buffer): string => `sha256=${createHmac('sha256', consumerSecret).update(data).digest('base64')}`;

/** Twilio's X-Twilio-Signature: base64 HMAC-SHA1 (auth token) over the URL, then each POST parameter's name and value, sorted by name. */
export function twilioSignature(authToken: string, url: string, params: Record<string, string>): string {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, name) => acc + name + params[name], url);
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
}
