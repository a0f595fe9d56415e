/**
 * Facebook Messenger (Meta Messenger Platform): webhook object "page", customers known by their
 * page-scoped id (PSID, handle kind messenger_psid, scope = the page id), replies through the Send API.
 * Parsing and sending are shared with Instagram: see ./meta-messaging.ts.
 */
import { metaMessagingChannel } from './meta-messaging';

export const messengerChannel = metaMessagingChannel({
  id: 'messenger',
  displayName: 'Messenger',
  description: 'Facebook Messenger through the Meta Messenger Platform (webhooks signed with the app secret, Send API)',
  object: 'page',
  handleKind: 'messenger_psid',
  accountKey: 'pageId',
});
