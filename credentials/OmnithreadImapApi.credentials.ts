import { n8nProperties } from '../nodes/n8n/fields';
import type { ICredentialType, INodeProperties, Icon } from 'n8n-workflow';
import { IMAP_SETTING_FIELDS } from '../shared/email/poll';

/**
 * The support mailbox's IMAP login, for the Omnithread Email Trigger. The fields are generated from the
 * core's IMAP settings (shared/email/poll.ts, IMAP_SETTING_FIELDS), so the credential data goes to
 * `pollEmailIntoTimeline` unchanged; the folder and what happens to a read mail are node parameters.
 * IMAP is not HTTP, so the credential is tested by the Email Trigger (`testedBy`), which logs in for real.
 */
export class OmnithreadImapApi implements ICredentialType {
	name = 'omnithreadImapApi';

	displayName = 'Omnithread IMAP API';

	icon: Icon = { light: 'file:email.svg', dark: 'file:email.dark.svg' };

	documentationUrl = 'https://github.com/omnithread/n8n-nodes-omnithread#email';

	properties: INodeProperties[] = n8nProperties(IMAP_SETTING_FIELDS);
}
