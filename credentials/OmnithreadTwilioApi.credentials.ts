import { n8nProperties } from '../nodes/n8n/fields';
import type { ICredentialTestRequest, ICredentialType, INodeProperties, Icon } from 'n8n-workflow';
import { twilioSmsChannel } from '../shared/channels/twilio';

/**
 * Twilio Programmable Messaging send settings (Account SID, Auth Token, sender) for the Reply node's SMS
 * answers. Tested with GET {apiBaseUrl}/2010-04-01/Accounts/{AccountSid}.json with HTTP Basic auth
 * (https://www.twilio.com/docs/iam/api/account#fetch-an-account-resource).
 * The fields are generated from the channel's `sendFields` (shared/channels/twilio.ts), so the credential
 * data goes to the channel's sendConfigSchema unchanged; secrets are password fields.
 */
export class OmnithreadTwilioApi implements ICredentialType {
	name = 'omnithreadTwilioApi';

	displayName = 'Omnithread Twilio API';

	icon: Icon = { light: 'file:channel.svg', dark: 'file:channel.dark.svg' };

	documentationUrl = 'https://github.com/omnithread/n8n-nodes-omnithread#sms-and-voice-twilio';

	properties: INodeProperties[] = n8nProperties(twilioSmsChannel.sendFields);

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{ String($credentials.apiBaseUrl || "https://api.twilio.com").replace(/\\/+$/, "") }}',
			url: '=/2010-04-01/Accounts/{{ $credentials.accountSid }}.json',
			method: 'GET',
			auth: { username: '={{ $credentials.accountSid }}', password: '={{ $credentials.authToken }}' },
		},
	};
}
