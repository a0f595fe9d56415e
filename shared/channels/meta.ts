/**
 * What WhatsApp Cloud API, Messenger and Instagram webhooks share (Meta's Webhooks product):
 * the GET verification handshake (hub.mode=subscribe, hub.verify_token, hub.challenge echoed back as
 * plain text) and the X-Hub-Signature-256 header, "sha256=" + HMAC-SHA256(app secret, raw body) in hex.
 */
import { createHmac } from 'node:crypto';
import type { Verification, WebhookReply, WebhookRequest } from './channel';
import { header } from './channel';
import { safeEqual } from './http';

export function metaChallenge(request: WebhookRequest, verifyToken: string): WebhookReply | undefined {
  if (request.method.toUpperCase() !== 'GET') return undefined;
  const mode = request.query['hub.mode'];
  const token = request.query['hub.verify_token'];
  const challenge = request.query['hub.challenge'];
  if (mode !== 'subscribe' || typeof challenge !== 'string') {
    return { status: 400, body: { error: 'Not a Meta webhook verification request (hub.mode=subscribe and hub.challenge expected)' } };
  }
  if (!verifyToken || typeof token !== 'string' || !safeEqual(token, verifyToken)) {
    return { status: 403, body: { error: 'hub.verify_token does not match the verify token set in this node' } };
  }
  return { status: 200, body: challenge, type: 'text' };
}

export function metaSignature(appSecret: string, rawBody: Buffer | string): string {
  return `sha256=${createHmac('sha256', appSecret).update(rawBody).digest('hex')}`;
}

export function metaVerify(request: WebhookRequest, appSecret: string): Verification {
  if (!appSecret) return { ok: false, status: 401, reason: 'no app secret is set in this node, so the X-Hub-Signature-256 header can not be checked' };
  const given = header(request, 'x-hub-signature-256');
  if (!given) return { ok: false, status: 401, reason: 'missing X-Hub-Signature-256 header' };
  return safeEqual(given.trim().toLowerCase(), metaSignature(appSecret, request.rawBody))
    ? { ok: true }
    : { ok: false, status: 401, reason: 'X-Hub-Signature-256 does not match the body (check the app secret)' };
}
