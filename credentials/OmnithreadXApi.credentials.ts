import { n8nProperties } from '../nodes/n8n/fields';
import type { ICredentialTestRequest, ICredentialType, INodeProperties, Icon } from 'n8n-workflow';
import { xChannel } from '../shared/channels/x';

/**
 * X (Twitter) API v2 send settings (OAuth 2.0 user access token) for the Reply node's direct messages.
 * Tested with GET {apiBaseUrl}/2/users/me with the bearer token (https://docs.x.com/x-api/users/user-lookup-me).
 * The fields are generated from the channel's `sendFields` (shared/channels/x.ts), so the credential
 * data goes to the channel's sendConfigSchema unchanged; secrets are password fields.
 */
export class OmnithreadXApi implements ICredentialType {
	name = 'omnithreadXApi';

	displayName = 'Omnithread X API';

	icon: Icon = { light: 'file:channel.svg', dark: 'file:channel.dark.svg' };

	documentationUrl = 'https://github.com/omnithread/n8n-nodes-omnithread#x-direct-messages';

	properties: INodeProperties[] = n8nProperties(xChannel.sendFields);

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{ String($credentials.apiBaseUrl || "https://api.x.com").replace(/\\/+$/, "") }}',
			url: '/2/users/me',
			method: 'GET',
			headers: { Authorization: '=Bearer {{ $credentials.userAccessToken }}' },
		},
	};
}
