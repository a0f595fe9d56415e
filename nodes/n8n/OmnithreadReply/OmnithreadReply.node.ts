/**
 * Reply: answers a person on the right channel through the provider's send API, exactly once. All the
 * logic (channel choice, 24-hour windows, the WhatsApp template, fallback, the reservation that makes a
 * re-run send nothing) is the core's `sendReply` (shared/reply.ts); this node maps its parameters and the
 * provider credentials to it, and its errors to node errors.
 *
 * HTTP: sendReply uses its own axios client, created in shared/ (n8n's helpers.httpRequest is not
 * axios-shaped). n8n's proxy settings (HTTP_PROXY / N8N_*_PROXY) are therefore not applied to the sends.
 */
import type {
	ICredentialsDecrypted,
	ICredentialTestFunctions,
	IDataObject,
	IExecuteFunctions,
	INodeCredentialTestResult,
	INode,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
	JsonObject,
} from 'n8n-workflow';
import { NodeApiError, NodeConnectionTypes, NodeOperationError } from 'n8n-workflow';
import { CHANNELS, checkSmtpLogin, isOmnithreadError, sendReply, type Omnithread, type ReplyRequest } from '../../../shared';
import { CREDENTIAL_FREE_CHANNELS, SEND_CREDENTIALS, errorItem, omnithreadForNode, omnithreadStoreApiTest, optionalText, sendSettings, toNodeError, type FieldLabels } from '../common';

export { SEND_CREDENTIALS } from '../common';

const CHANNEL_NAMES: Record<string, string> = {
	email: 'Email (SMTP)',
	instagram: 'Instagram',
	messenger: 'Messenger',
	sms: 'SMS (Twilio)',
	telegram: 'Telegram',
	webchat: 'Web Chat',
	whatsapp: 'WhatsApp',
	x: 'X',
};

const LABELS: FieldLabels = {
	contactId: 'Contact ID',
	inReplyTo: 'In Reply To',
	channel: 'Channel',
	text: 'Text',
	media: 'Media',
	whatsappTemplate: 'WhatsApp Template',
	replyKey: 'Reply Key',
	retryBudgetSeconds: 'Options > Retry Budget (Seconds)',
	author: 'Author',
};

/** A list parameter: an array from an expression, or one value per line. */
function lines(value: unknown): string[] {
	if (Array.isArray(value)) return value.map(String);
	return typeof value === 'string' ? value.split('\n').map((v) => v.trim()).filter(Boolean) : [];
}

/**
 * Credential test (`testedBy` on the SMTP credential): SMTP is not HTTP, so instead of n8n's request
 * test the node connects and logs in for real (nodemailer's verify), sending nothing.
 */
export async function omnithreadSmtpApiTest(
	this: ICredentialTestFunctions,
	credential: ICredentialsDecrypted,
): Promise<INodeCredentialTestResult> {
	const data = credential.data ?? {};
	// Only the channel's send fields; an emptied optional field (e.g. Port) takes the channel's default.
	const fields = (CHANNELS.email?.sendFields ?? []).map((f) => f.name);
	const settings = Object.fromEntries(fields.filter((name) => data[name] !== undefined && data[name] !== '').map((name) => [name, data[name]]));
	try {
		return { status: 'OK', message: await checkSmtpLogin(settings) };
	} catch (error) {
		const code = isOmnithreadError(error) ? `${error.code}: ` : '';
		return { status: 'Error', message: `${code}${error instanceof Error ? error.message : String(error)}` };
	}
}

function replyRequest(context: IExecuteFunctions, itemIndex: number): ReplyRequest {
	const param = (name: string, fallback: unknown = '') => context.getNodeParameter(name, itemIndex, fallback);
	const media = param('media', {}) as IDataObject;
	const template = param('whatsappTemplate', {}) as IDataObject;
	const author = param('author', {}) as IDataObject;
	const mediaUrl = optionalText(media.url);
	const templateName = optionalText(template.name);
	const authorName = optionalText(author.name);
	const options = param('options', {}) as IDataObject;
	return {
		contactId: String(param('contactId') ?? ''),
		inReplyTo: optionalText(param('inReplyTo')),
		channel: param('channel', 'same') as ReplyRequest['channel'],
		text: String(param('text') ?? ''),
		...(mediaUrl
			? {
					media: {
						url: mediaUrl,
						type: (optionalText(media.type) ?? 'image') as 'image',
						caption: optionalText(media.caption),
						filename: optionalText(media.filename),
					},
				}
			: {}),
		...(templateName
			? {
					whatsappTemplate: {
						name: templateName,
						language: optionalText(template.language) ?? 'en',
						parameters: lines(template.parameters),
					},
				}
			: {}),
		fallback: param('fallback', true) as boolean,
		replyKey: optionalText(param('replyKey', 'reply')) ?? 'reply',
		...(typeof options.retryBudgetSeconds === 'number' ? { retryBudgetSeconds: options.retryBudgetSeconds } : {}),
		...(options.resendUnknown === true ? { resendUnknown: true } : {}),
		...(authorName || author.type ? { author: { name: authorName, type: (optionalText(author.type) ?? 'ai') as 'ai' } } : {}),
	};
}

/** The provider errors, as node errors that say what to do; the rest as the other nodes show them. */
function replyError(node: INode, error: unknown, itemIndex: number): NodeOperationError | NodeApiError {
	if (!isOmnithreadError(error)) return toNodeError(node, error, itemIndex, LABELS);
	const details = (error.details ?? {}) as { retryAfterSeconds?: number; status?: number; provider?: string; delivery?: string; attempts?: number };
	const tries = details.attempts && details.attempts > 1 ? ` after ${details.attempts} attempts` : '';
	const api = (httpCode: string, description: string) =>
		new NodeApiError(node, { message: error.message, code: error.code, ...(details as JsonObject) } as JsonObject, {
			message: error.message,
			description,
			httpCode,
			itemIndex,
		});
	switch (error.code) {
		case 'RATE_LIMITED': {
			const when =
				details.retryAfterSeconds !== undefined
					? `Retry after ${details.retryAfterSeconds} seconds (retryAfterSeconds: ${details.retryAfterSeconds})`
					: 'The provider did not say when: retry later';
			return api(
				'429',
				`The provider's rate limit was reached (RATE_LIMITED)${tries}, beyond the node's Retry Budget. ${when}; "Retry On Fail" with a wait at least that long, or a Wait node, retries it. The answer stays on the timeline as failed (not sent) and a re-run sends it.`,
			);
		}
		case 'AUTH_FAILED':
			return api(
				String(details.status ?? 401),
				`The provider refused the credentials (AUTH_FAILED): check the token in the channel's credential (it may be invalid, expired, or miss a permission).`,
			);
		case 'PROVIDER_ERROR':
			return api(
				String(details.status ?? 502),
				details.delivery === 'unknown'
					? `It is not known whether the provider took the message (PROVIDER_ERROR, delivery unknown: a timeout or a cut connection): it is recorded as unknown and never sent again on its own, so the person does not read it twice. Check on the channel; to send it anyway, run again with the option "Resend Unknown".`
					: `The provider did not take the message (PROVIDER_ERROR, not sent${tries}); its answer is in the error details. The answer stays on the timeline as failed and a re-run sends it.`,
			);
		case 'CONFLICT':
			return new NodeOperationError(node, error, {
				itemIndex,
				description: 'Another run (a retry, another worker) is sending this same answer right now (CONFLICT): it is not sent twice. Its outcome will be on the timeline.',
			});
		case 'WINDOW_CLOSED':
			return new NodeOperationError(node, error, {
				itemIndex,
				description:
					'The channel only allows free-form answers within 24 hours of the customer\'s last message (WINDOW_CLOSED). Set a WhatsApp Template, turn on "Fall Back to Another Channel" and add the credential of another channel the person uses, or wait for the customer to write again.',
			});
		case 'INVALID_INPUT':
			return new NodeOperationError(node, error, {
				itemIndex,
				description: `Nothing was sent: the answer or the channel settings are not valid (${error.code}).${
					error.field && LABELS[error.field.split('.')[0]] ? ` Check the "${LABELS[error.field.split('.')[0]]}" parameter (field "${error.field}").` : ' Check the parameters and the channel credentials.'
				}`,
			});
		default:
			return toNodeError(node, error, itemIndex, LABELS);
	}
}

export class OmnithreadReply implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Omnithread Reply',
		name: 'omnithreadReply',
		icon: { light: 'file:reply.svg', dark: 'file:reply.dark.svg' },
		group: ['output'],
		version: 1,
		subtitle: '={{$parameter["channel"]}}',
		description:
			"Answers a customer on the channel they wrote on, a chosen one, or the best one still open (WhatsApp, Messenger, Instagram, Telegram, SMS, X, email, web chat): respects 24-hour windows, sends a WhatsApp template or falls back to another channel, and never sends the same answer twice",
		defaults: { name: 'Omnithread Reply' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{ name: 'omnithreadStoreApi', displayName: 'Store (Empty: Embedded SQLite)', required: false, testedBy: 'omnithreadStoreApiTest' },
			{ name: 'omnithreadWhatsAppApi', displayName: 'WhatsApp Sender', required: false },
			{ name: 'omnithreadMetaPageApi', displayName: 'Messenger / Instagram Page', required: false },
			{ name: 'omnithreadTelegramApi', displayName: 'Telegram Bot', required: false },
			{ name: 'omnithreadTwilioApi', displayName: 'Twilio (SMS and Voice)', required: false },
			{ name: 'omnithreadXApi', displayName: 'X Account', required: false },
			{ name: 'omnithreadSmtpApi', displayName: 'Email Sender (SMTP)', required: false, testedBy: 'omnithreadSmtpApiTest' },
		],
		properties: [
			{
				displayName:
					'Set the credential of every channel the node may answer on (Messenger and Instagram share the Meta page credential; email needs the SMTP credential). Web chat needs none: the answer is recorded and the visitor\'s widget fetches it. Channels without a credential are skipped.',
				name: 'notice',
				type: 'notice',
				default: '',
			},
			{
				displayName: 'Contact ID',
				name: 'contactId',
				type: 'string',
				default: '={{ $json.contactId ?? $json.contact?.id }}',
				required: true,
				description: 'ID of the contact to answer. By default taken from the input item (Omnithread Trigger or Identity Resolve output).',
			},
			{
				displayName: 'In Reply To',
				name: 'inReplyTo',
				type: 'string',
				default: '={{ $json.event?.id }}',
				description:
					"ID of the inbound event being answered (the trigger's event.ID). Empty = the contact's latest message. With the Reply Key it makes the answer exactly-once.",
			},
			{
				displayName: 'Channel',
				name: 'channel',
				type: 'options',
				options: [
					{ name: 'Best Open Channel', value: 'bestOpen', description: "The person's most recent channel that can be used now" },
					...[...Object.keys(SEND_CREDENTIALS), ...CREDENTIAL_FREE_CHANNELS]
						.filter((id) => CHANNELS[id]?.send)
						.map((id) => ({ name: CHANNEL_NAMES[id] ?? id, value: id, description: `Answer on ${CHANNEL_NAMES[id] ?? id}` })),
					{ name: 'Same as the Message', value: 'same', description: 'The channel of the message being answered' },
				].sort((a, b) => a.name.localeCompare(b.name)),
				default: 'same',
				description: 'Where to send the answer',
			},
			{
				displayName: 'Text',
				name: 'text',
				type: 'string',
				typeOptions: { rows: 4 },
				default: '',
				description: 'The answer. May be empty when a media URL is given.',
			},
			{
				displayName: 'Media',
				name: 'media',
				type: 'collection',
				placeholder: 'Add Media',
				default: {},
				description: 'An image, video, audio file or document to send by URL (where the channel allows it)',
				options: [
					{ displayName: 'Caption', name: 'caption', type: 'string', default: '', description: 'Caption of the media (default: the text)' },
					{ displayName: 'Filename', name: 'filename', type: 'string', default: '', description: 'File name shown for a document' },
					{
						displayName: 'Type',
						name: 'type',
						type: 'options',
						options: [
							{ name: 'Audio', value: 'audio' },
							{ name: 'Document', value: 'document' },
							{ name: 'Image', value: 'image' },
							{ name: 'Video', value: 'video' },
						],
						default: 'image',
						description: 'The kind of media',
					},
					{ displayName: 'URL', name: 'url', type: 'string', default: '', placeholder: 'https://example.com/invoice.pdf', description: 'Public http(s) URL the provider downloads the media from' },
				],
			},
			{
				displayName: 'WhatsApp Template',
				name: 'whatsappTemplate',
				type: 'collection',
				placeholder: 'Add Template Field',
				default: {},
				description: "An approved WhatsApp template, sent instead of the text when WhatsApp's 24-hour window has closed",
				options: [
					{ displayName: 'Language', name: 'language', type: 'string', default: 'en', placeholder: 'en_US', description: 'Language code of the template' },
					{ displayName: 'Name', name: 'name', type: 'string', default: '', placeholder: 'order_update', description: 'Name of the approved template' },
					{
						displayName: 'Parameters',
						name: 'parameters',
						type: 'string',
						typeOptions: { rows: 3 },
						default: '',
						description: 'Values of the body variables {{1}}, {{2}}... one per line (or an expression returning an array)',
					},
				],
			},
			{
				displayName: 'Fall Back to Another Channel',
				name: 'fallback',
				type: 'boolean',
				default: true,
				description: "Whether to send on another channel of the same person that is still open when the chosen one can't be used now",
			},
			{
				displayName: 'Reply Key',
				name: 'replyKey',
				type: 'string',
				default: 'reply',
				description:
					'Tells apart different answers to one message (one per Reply node): the same message and key are sent only once, even when the workflow runs again',
			},
			{
				displayName: 'Options',
				name: 'options',
				type: 'collection',
				placeholder: 'Add option',
				default: {},
				description: 'How failed sends are retried',
				options: [
					{
						displayName: 'Resend Unknown',
						name: 'resendUnknown',
						type: 'boolean',
						default: false,
						description:
							'Whether to send again an answer whose earlier attempt may have reached the person (it timed out, or the run stopped mid-send). Off: such an answer is never sent twice.',
					},
					{
						displayName: 'Retry Budget (Seconds)',
						name: 'retryBudgetSeconds',
						type: 'number',
						typeOptions: { minValue: 0, maxValue: 600 },
						default: 30,
						description:
							"How long to keep retrying a rate limit (honouring the provider's Retry-After), a provider 5xx or an unreachable provider, with exponential back-off. 0 = one attempt.",
					},
				],
			},
			{
				displayName: 'Author',
				name: 'author',
				type: 'collection',
				placeholder: 'Add Author Field',
				default: {},
				description: 'Who wrote the answer, recorded on the timeline',
				options: [
					{ displayName: 'Name', name: 'name', type: 'string', default: '', description: 'Name of the author' },
					{
						displayName: 'Type',
						name: 'type',
						type: 'options',
						options: [
							{ name: 'AI', value: 'ai' },
							{ name: 'Human', value: 'human' },
							{ name: 'System', value: 'system' },
						],
						default: 'ai',
						description: 'Whether a person, an AI or an automation wrote it',
					},
				],
			},
		],
	};

	methods = { credentialTest: { omnithreadStoreApiTest, omnithreadSmtpApiTest } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const output: INodeExecutionData[] = [];
		let omnithread: Omnithread | undefined;
		for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
			try {
				omnithread ??= await omnithreadForNode(this);
				const channels = await sendSettings(this, itemIndex);
				const result = await sendReply(omnithread, replyRequest(this, itemIndex), { channels });
				output.push({ json: result as unknown as IDataObject, pairedItem: { item: itemIndex } });
			} catch (error) {
				if (this.continueOnFail()) {
					const item = errorItem(error, itemIndex);
					const retry = isOmnithreadError(error) ? (error.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds : undefined;
					if (retry !== undefined) item.json.retryAfterSeconds = retry;
					const delivery = isOmnithreadError(error) ? (error.details as { delivery?: string } | undefined)?.delivery : undefined;
					if (delivery) item.json.delivery = delivery;
					output.push(item);
					continue;
				}
				throw replyError(this.getNode(), error, itemIndex);
			}
		}
		return [output];
	}
}
