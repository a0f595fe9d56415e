import { n8nProperties } from '../nodes/n8n/fields';
import type { ICredentialTestRequest, ICredentialType, INodeProperties, Icon } from 'n8n-workflow';
import { messengerChannel } from '../shared/channels/messenger';

/**
 * Send settings of a Facebook page (Messenger Send API) or of the page linked to an Instagram account (the
 * Instagram messaging API), for the Reply node's Messenger and Instagram answers. Tested with
 * GET {apiBaseUrl}/{apiVersion}/me?access_token=..., which returns the page the token belongs to.
 * The fields are generated from the channel's `sendFields` (shared/channels/messenger.ts), so the credential
 * data goes to the channel's sendConfigSchema unchanged; secrets are password fields.
 */

/** The one field whose description differs between Messenger and Instagram: one text for both. */
const DESCRIPTIONS: Record<string, string> = {
	pageAccessToken:
		'A page access token of the Facebook page (pages_messaging; for Instagram, of the page linked to the Instagram account with instagram_manage_messages), or an Instagram user token with API Base URL https://graph.instagram.com',
};

export class OmnithreadMetaPageApi implements ICredentialType {
	name = 'omnithreadMetaPageApi';

	displayName = 'Omnithread Meta Page API';

	icon: Icon = { light: 'file:channel.svg', dark: 'file:channel.dark.svg' };

	documentationUrl = 'https://github.com/omnithread/n8n-nodes-omnithread#messenger-and-instagram';

	properties: INodeProperties[] = n8nProperties(messengerChannel.sendFields).map((property) => ({
		...property,
		description: DESCRIPTIONS[property.name] ?? property.description,
	}));

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{ String($credentials.apiBaseUrl || "https://graph.facebook.com").replace(/\\/+$/, "") }}',
			url: '=/{{ $credentials.apiVersion || "v21.0" }}/me',
			method: 'GET',
			qs: { access_token: '={{ $credentials.pageAccessToken }}', fields: 'id,name' },
		},
	};
}
