import { n8nProperties } from '../nodes/n8n/fields';
import type { ICredentialTestRequest, ICredentialType, INodeProperties, Icon } from 'n8n-workflow';
import { whatsappChannel } from '../shared/channels/whatsapp';

/**
 * WhatsApp Cloud API send settings (access token, phone number ID, API version and base URL) for the
 * Reply node. Tested with GET {apiBaseUrl}/{apiVersion}/{phoneNumberId}, which reads the business phone number
 * (https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account-to-number-current-status/).
 * The fields are generated from the channel's `sendFields` (shared/channels/whatsapp.ts), so the credential
 * data goes to the channel's sendConfigSchema unchanged; secrets are password fields.
 */
export class OmnithreadWhatsAppApi implements ICredentialType {
	name = 'omnithreadWhatsAppApi';

	displayName = 'Omnithread WhatsApp API';

	icon: Icon = { light: 'file:channel.svg', dark: 'file:channel.dark.svg' };

	documentationUrl = 'https://github.com/omnithread/n8n-nodes-omnithread#whatsapp-cloud-api';

	properties: INodeProperties[] = n8nProperties(whatsappChannel.sendFields);

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{ String($credentials.apiBaseUrl || "https://graph.facebook.com").replace(/\\/+$/, "") }}',
			url: '=/{{ $credentials.apiVersion || "v21.0" }}/{{ $credentials.phoneNumberId }}',
			method: 'GET',
			headers: { Authorization: '=Bearer {{ $credentials.accessToken }}' },
		},
	};
}
