import type { ICredentialType, INodeProperties, Icon } from 'n8n-workflow';

/**
 * The first admin of an Omnithread Desk: a roster agent id and the password it signs in with. The desk
 * adds the agent to the roster when it is missing and keeps only an scrypt hash of the password in the
 * store; from the desk's Agents panel this admin gives other agents access (a password or a sign-in link).
 */
export class OmnithreadDeskApi implements ICredentialType {
	name = 'omnithreadDeskApi';

	displayName = 'Omnithread Desk Admin';

	icon: Icon = { light: 'file:desk.svg', dark: 'file:desk.dark.svg' };

	documentationUrl = 'https://github.com/omnithread/n8n-nodes-omnithread#the-desk';

	properties: INodeProperties[] = [
		{
			displayName: 'Admin Agent ID',
			name: 'adminAgentId',
			type: 'string',
			default: 'admin',
			required: true,
			description: 'The roster agent who administers the desk (added to the roster as a human agent when missing)',
		},
		{
			displayName: 'Admin Password',
			name: 'adminPassword',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
			description: 'At least 10 characters. Only its scrypt hash is stored.',
		},
	];
}
