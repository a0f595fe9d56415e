import { n8nProperties } from '../nodes/n8n/fields';
import type { ICredentialType, INodeProperties, Icon } from 'n8n-workflow';
import { emailChannel } from '../shared/channels/email';

/**
 * SMTP send settings (server, login, From address) for the Reply node's email answers. The fields are
 * generated from the email channel's `sendFields` (shared/channels/email.ts), so the credential data goes
 * to its send config schema unchanged; the password is a password field. SMTP is not HTTP, so the
 * credential is tested by the Reply node (`testedBy`), which connects and logs in for real.
 */
export class OmnithreadSmtpApi implements ICredentialType {
	name = 'omnithreadSmtpApi';

	displayName = 'Omnithread SMTP API';

	icon: Icon = { light: 'file:email.svg', dark: 'file:email.dark.svg' };

	documentationUrl = 'https://github.com/omnithread/n8n-nodes-omnithread#email';

	properties: INodeProperties[] = n8nProperties(emailChannel.sendFields);
}
