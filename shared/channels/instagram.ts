/**
 * Instagram direct messages (Messenger Platform for Instagram): webhook object "instagram", customers
 * known by their Instagram-scoped id (IGSID, handle kind instagram_igsid, scope = the Instagram account
 * id), replies through the Send API with the token of the linked page (or, with apiBaseUrl
 * https://graph.instagram.com, an Instagram user token). Parsing and sending: see ./meta-messaging.ts.
 */
import { metaMessagingChannel } from './meta-messaging';

export const instagramChannel = metaMessagingChannel({
  id: 'instagram',
  displayName: 'Instagram',
  description: 'Instagram direct messages through the Meta Messenger Platform (webhooks signed with the app secret, Send API)',
  object: 'instagram',
  handleKind: 'instagram_igsid',
  accountKey: 'accountId',
});
