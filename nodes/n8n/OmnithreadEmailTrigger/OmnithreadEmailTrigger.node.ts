/**
 * Email Trigger: polls a support mailbox over IMAP on n8n's schedule and starts the workflow once per new
 * mail, recorded on the sender's cross-channel timeline. All the logic (the UID cursor kept in the store,
 * parsing and quote stripping, idempotent ingest by Message-ID, \Seen or move, malformed mails skipped) is
 * the core's `pollEmailIntoTimeline` (shared/email/poll.ts); this node maps its credential and parameters to
 * it, its result to items shaped exactly like the Omnithread Trigger's, and its failures to node errors.
 */
import type {
	ICredentialsDecrypted,
	ICredentialTestFunctions,
	IDataObject,
	INode,
	INodeCredentialTestResult,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
	IPollFunctions,
	JsonObject,
} from 'n8n-workflow';
import { NodeApiError, NodeConnectionTypes, NodeOperationError } from 'n8n-workflow';
import {
	IMAP_SETTING_FIELDS,
	MAILBOX_SETTING_FIELDS,
	checkImapLogin,
	isOmnithreadError,
	pollEmailIntoTimeline,
	triggerOutput,
	type EmailPollFailure,
	type IngestResult,
} from '../../../shared';
import { omnithreadForNode, omnithreadStoreApiTest, toNodeError } from '../common';
import { n8nProperty } from '../fields';

const IMAP_CREDENTIAL = 'omnithreadImapApi';

/** Credential fields as the core reads them: an emptied optional field (e.g. Port) takes the core's default. */
function filled(data: IDataObject | undefined, fields: readonly { name: string }[]): IDataObject {
	const out: IDataObject = {};
	for (const { name } of fields) {
		const value = data?.[name];
		if (value !== undefined && value !== null && value !== '') out[name] = value;
	}
	return out;
}

/** Credential test (`testedBy` on the IMAP credential): logs in to the server and out again. */
export async function omnithreadImapApiTest(
	this: ICredentialTestFunctions,
	credential: ICredentialsDecrypted,
): Promise<INodeCredentialTestResult> {
	try {
		return { status: 'OK', message: await checkImapLogin(filled(credential.data, IMAP_SETTING_FIELDS)) };
	} catch (error) {
		const code = isOmnithreadError(error) ? `${error.code}: ` : '';
		return { status: 'Error', message: `${code}${error instanceof Error ? error.message : String(error)}` };
	}
}

/** A failed poll as the node error n8n shows (manual run) or hands to the error workflow (active). */
function pollError(node: INode, error: unknown): NodeApiError | NodeOperationError {
	if (!isOmnithreadError(error)) return toNodeError(node, error);
	const api = (httpCode: string, message: string, description: string) =>
		new NodeApiError(node, { message: error.message, code: error.code } as JsonObject, { message, description, httpCode });
	switch (error.code) {
		case 'AUTH_FAILED':
			return api(
				'401',
				`The IMAP server refused the login (AUTH_FAILED): ${error.message}`,
				'Check the user and password of the Omnithread IMAP credential (many providers need an app password for IMAP). No mail was read.',
			);
		case 'PROVIDER_ERROR':
			return api(
				'502',
				`The IMAP server could not be read (PROVIDER_ERROR): ${error.message}`,
				'Check the host, port and TLS settings of the Omnithread IMAP credential and that the server is reachable. Mails not read now are read by the next poll.',
			);
		case 'NOT_FOUND':
			return new NodeOperationError(node, error, {
				description: 'The mailbox (folder) does not exist on the IMAP server: check the "Mailbox" parameter (folder names are case-sensitive; subfolders use the server\'s separator, e.g. "INBOX/Support").',
			});
		case 'INVALID_INPUT':
			return new NodeOperationError(node, error, {
				description: `The IMAP settings are not valid${error.field ? ` (field "${error.field}")` : ''}: check the Omnithread IMAP credential and the node's parameters.`,
			});
		default:
			return toNodeError(node, error);
	}
}

const describeFailures = (failed: EmailPollFailure[]): string =>
	failed.map((f) => `UID ${f.uid}: ${f.error}`).join('; ');

/** One output item per newly recorded mail: the Omnithread Trigger's item shape. */
const triggerItem = (result: IngestResult): INodeExecutionData => ({ json: triggerOutput(result) as unknown as IDataObject });

export class OmnithreadEmailTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Omnithread Email Trigger',
		name: 'omnithreadEmailTrigger',
		icon: { light: 'file:email.svg', dark: 'file:email.dark.svg' },
		group: ['trigger'],
		version: 1,
		subtitle: '={{"Mailbox: " + ($parameter["mailbox"] || "INBOX")}}',
		description:
			'Polls a support mailbox over IMAP and starts the workflow once for each new mail, recorded on the sender\'s cross-channel timeline (recognising them across channels, quoted history removed). "Fetch Test Event" polls for real: the mails it fetches are recorded and marked as read (or moved) and are not fetched again.',
		defaults: { name: 'Omnithread Email Trigger' },
		polling: true,
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{ name: 'omnithreadStoreApi', displayName: 'Store (Empty: Embedded SQLite)', required: false, testedBy: 'omnithreadStoreApiTest' },
			{ name: 'omnithreadImapApi', displayName: 'Mailbox (IMAP)', required: true, testedBy: 'omnithreadImapApiTest' },
		],
		properties: [
			{
				displayName:
					'Each poll reads the mails that arrived since the last one, records them and marks them as read (or moves them). "Fetch Test Event" polls for real too: what it fetches is recorded and will not start the active workflow again. Mails from your own side (this support address, or the Own Addresses of the Omnithread Store credential) are recorded as your answers on the customer\'s timeline and do not start the workflow.',
				name: 'notice',
				type: 'notice',
				default: '',
			},
			// The folder settings of the core (shared/email/poll.ts); "Move To" only matters when moving.
			...MAILBOX_SETTING_FIELDS.map((field) => n8nProperty(field, field.name === 'moveTo' ? { show: { after: ['move'] } } : undefined)),
			{
				displayName: 'Support Address',
				name: 'address',
				type: 'string',
				default: '',
				placeholder: 'support@example.com',
				description:
					"The address customers write to, recorded as the mailbox of mails that name none (no Delivered-To or To). Empty = the IMAP user when it is an address.",
			},
		],
	};

	methods = { credentialTest: { omnithreadStoreApiTest, omnithreadImapApiTest } };

	async poll(this: IPollFunctions): Promise<INodeExecutionData[][] | null> {
		const node = this.getNode();
		const credential = await this.getCredentials<IDataObject>(IMAP_CREDENTIAL);
		const settings: IDataObject = { ...filled(credential, IMAP_SETTING_FIELDS) };
		for (const name of [...MAILBOX_SETTING_FIELDS.map((f) => f.name), 'address']) {
			const value = this.getNodeParameter(name, '') as string;
			if (value !== '') settings[name] = value;
		}
		// "Move To" is hidden unless moving; a value left in it from before must not be sent along.
		if (settings.after !== 'move') delete settings.moveTo;

		let result;
		try {
			result = await pollEmailIntoTimeline(await omnithreadForNode(this), settings);
		} catch (error) {
			// Settings refused before any connection, or the store could not be opened.
			throw pollError(node, error);
		}
		const { recorded, failed } = result;

		if (failed.length) {
			this.logger.warn(`Omnithread Email Trigger: ${failed.length} mail(s) could not be read and were skipped: ${describeFailures(failed)}`, {
				node: node.name,
				failed,
			});
		}
		if (result.error) {
			if (recorded.length) {
				// The poll stopped part-way (server or store failure), but these mails are on the timeline and
				// their cursor is saved: the workflow must run for them now, or it never will. The failing
				// mail is read again by the next poll, which reports the failure if it persists.
				this.logger.error(`Omnithread Email Trigger: the poll stopped early after ${recorded.length} mail(s): ${result.error.message}`, { node: node.name });
				return [recorded.map(triggerItem)];
			}
			throw pollError(node, result.error);
		}
		if (recorded.length) return [recorded.map(triggerItem)];

		if (failed.length) {
			// Only unreadable mails: thrown, so n8n runs the error workflow (or shows it on "Fetch Test
			// Event"). Skipped mails are never retried (the cursor moved past them; they stay unread, or go to
			// the error folder), so each is reported once; a log line alone would go unnoticed. When good
			// mails came along, they are emitted instead (a thrown poll emits nothing) and the skipped ones
			// are only logged above.
			throw new NodeOperationError(node, `${failed.length} mail(s) in the mailbox could not be read and were skipped: ${describeFailures(failed)}`, {
				description: `The mails were left in the mailbox${settings.errorFolder ? ` folder "${String(settings.errorFolder)}"` : ', unread'} for a person to handle; they will not be read again.`,
			});
		}
		return null;
	}
}
