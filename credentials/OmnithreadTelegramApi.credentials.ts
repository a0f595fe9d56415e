import { n8nProperties } from '../nodes/n8n/fields';
import type { ICredentialTestRequest, ICredentialType, INodeProperties, Icon } from 'n8n-workflow';
import { telegramChannel } from '../shared/channels/telegram';

/**
 * Telegram Bot API send settings (bot token, Bot API server) for the Reply node. Tested with
 * GET {apiBaseUrl}/bot{token}/getMe (https://core.telegram.org/bots/api#getme).
 * The fields are generated from the channel's `sendFields` (shared/channels/telegram.ts), so the credential
 * data goes to the channel's sendConfigSchema unchanged; secrets are password fields.
 */
export class OmnithreadTelegramApi implements ICredentialType {
	name = 'omnithreadTelegramApi';

	displayName = 'Omnithread Telegram API';

	icon: Icon = { light: 'file:channel.svg', dark: 'file:channel.dark.svg' };

	documentationUrl = 'https://github.com/omnithread/n8n-nodes-omnithread#telegram';

	properties: INodeProperties[] = n8nProperties(telegramChannel.sendFields);

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{ String($credentials.apiBaseUrl || "https://api.telegram.org").replace(/\\/+$/, "") }}',
			url: '=/bot{{ $credentials.botToken }}/getMe',
			method: 'GET',
		},
	};
}
