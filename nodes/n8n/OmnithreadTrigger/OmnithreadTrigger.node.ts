import type {
	IDataObject,
	IHookFunctions,
	INodeExecutionData,
	INodeProperties,
	INodeType,
	INodeTypeDescription,
	IWebhookFunctions,
	IWebhookResponseData,
} from 'n8n-workflow';
import { NodeConnectionTypes, NodeOperationError } from 'n8n-workflow';
import {
	CHANNELS,
	channelById,
	channelConfig,
	handleWebhook,
	isProviderReply,
	renderReply,
	triggerOutput,
	type IngestResult,
	type SettingField,
	type WebhookOutcome,
	type WebhookReply,
	type WebhookRequest,
} from '../../../shared';
import { omnithreadForNode, omnithreadStoreApiTest } from '../common';

/**
 * Each channel's settings, generated from the channel module's description: parameters shown only for
 * that channel (displayOptions on `channel`). webhook() collects them without knowing the channel.
 */
const CHANNEL_SETTINGS: INodeProperties[] = [
	{
		displayName:
			'POST one JSON message, an array of them, or {"messages": [...]}. Each needs a "messageId" (the idempotency key) and a "from" with an email, phone, accountId or handles.',
		name: 'genericNotice',
		type: 'notice',
		default: '',
		displayOptions: { show: { channel: ['generic'] } },
	},
	...Object.values(CHANNELS).flatMap((channel) => (channel.settingFields ?? []).map((field) => parameterFor(channel.id, field))),
];

function parameterFor(channel: string, field: SettingField): INodeProperties {
	const common = {
		displayName: field.displayName,
		name: field.name,
		description: field.description,
		required: field.required,
		placeholder: field.placeholder,
		displayOptions: { show: { channel: [channel] } },
	};
	if (field.type === 'boolean') return { ...common, type: 'boolean', default: field.default ?? false };
	if (field.type === 'options') return { ...common, type: 'options', options: [...(field.options ?? [])], default: field.default ?? '' };
	return { ...common, type: 'string', default: field.default ?? '', ...(field.secret ? { typeOptions: { password: true } } : {}) };
}

/** The settings of one channel, as given in the node, for the channel module to validate. */
function channelSettings(context: IWebhookFunctions, channelId: string): IDataObject {
	const settings: IDataObject = {};
	for (const property of CHANNEL_SETTINGS) {
		const shownFor = property.displayOptions?.show?.channel as string[] | undefined;
		if (property.type !== 'notice' && shownFor?.includes(channelId)) {
			settings[property.name] = context.getNodeParameter(property.name, property.default) as IDataObject[string];
		}
	}
	return settings;
}

/** The delivery as the core reads it: the raw body bytes are what signatures cover. */
async function webhookRequest(context: IWebhookFunctions): Promise<WebhookRequest> {
	const request = context.getRequestObject();
	if (!Buffer.isBuffer(request.rawBody) && typeof request.readRawBody === 'function') await request.readRawBody();
	const rawBody = Buffer.isBuffer(request.rawBody)
		? request.rawBody
		: Buffer.from(request.body === undefined ? '' : JSON.stringify(request.body));
	const headers: WebhookRequest['headers'] = {};
	for (const [name, value] of Object.entries(request.headers ?? {})) headers[name.toLowerCase()] = value;
	const query = request.originalUrl?.includes('?') ? request.originalUrl.slice(request.originalUrl.indexOf('?')) : '';
	return {
		method: request.method ?? 'POST',
		headers,
		query: (request.query ?? {}) as Record<string, unknown>,
		rawBody,
		url: `${context.getNodeWebhookUrl('default') ?? ''}${query}`,
	};
}

/** One output item per newly recorded message. */
function triggerItem(result: IngestResult): INodeExecutionData {
	return { json: triggerOutput(result) as unknown as IDataObject };
}

export class OmnithreadTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Omnithread Trigger',
		name: 'omnithreadTrigger',
		icon: { light: 'file:omnithread.svg', dark: 'file:omnithread.dark.svg' },
		group: ['trigger'],
		version: 1,
		subtitle: '={{"Channel: " + $parameter["channel"]}}',
		description:
			'Starts the workflow when a customer message arrives on a channel. Checks the signature, records the message on the sender\'s cross-channel timeline (recognising them across channels) and skips redeliveries.',
		defaults: { name: 'Omnithread Trigger' },
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'omnithreadStoreApi', required: false, testedBy: 'omnithreadStoreApiTest' }],
		webhooks: [
			{
				name: 'default',
				httpMethod: 'POST',
				responseMode: '={{$parameter["responseMode"]}}',
				responseData: '={{$parameter["responseData"]}}',
				path: 'webhook',
			},
		],
		properties: [
			{
				displayName: 'Channel',
				name: 'channel',
				type: 'options',
				options: Object.values(CHANNELS)
					.map((channel) => ({ name: channel.displayName, value: channel.id, description: channel.description }))
					.sort((a, b) => a.name.localeCompare(b.name)),
				default: 'generic',
				description: 'Which provider calls this webhook; decides how deliveries are verified and read',
			},
			...CHANNEL_SETTINGS,
			{
				displayName: 'Respond',
				name: 'responseMode',
				type: 'options',
				options: [
					{
						name: 'Immediately',
						value: 'onReceived',
						description: 'Acknowledge as soon as the messages are recorded: {"received", "recorded", "duplicates"}',
					},
					{
						name: "Using 'Respond to Webhook' Node",
						value: 'responseNode',
						description: 'The Respond to Webhook node in the workflow sends the response',
					},
					{
						name: 'When Last Node Finishes',
						value: 'lastNode',
						description: 'The output of the last node that runs is the response',
					},
				],
				default: 'onReceived',
				description:
					'When and how to answer the caller. Messages are recorded before any answer, so an acknowledged message is never lost.',
			},
			{
				displayName: 'Response Data',
				name: 'responseData',
				type: 'options',
				options: [
					{ name: 'All Entries', value: 'allEntries', description: 'All items of the last node, as a JSON array' },
					{ name: 'First Entry JSON', value: 'firstEntryJson', description: 'The JSON of the first item of the last node' },
					{ name: 'No Response Body', value: 'noData', description: 'An empty body' },
				],
				default: 'firstEntryJson',
				description: 'What the response contains when the last node finishes',
				displayOptions: { show: { responseMode: ['lastNode'] } },
			},
		],
	};

	methods = { credentialTest: { omnithreadStoreApiTest } };

	webhookMethods = {
		default: {
			// Channels that register their webhook with the provider (e.g. Telegram's setWebhook) do it here;
			// the Generic JSON channel is called by whatever system the user points at the URL: nothing to register.
			async checkExists(this: IHookFunctions): Promise<boolean> {
				return channelById(this.getNodeParameter('channel') as string) !== undefined;
			},
			async create(this: IHookFunctions): Promise<boolean> {
				return channelById(this.getNodeParameter('channel') as string) !== undefined;
			},
			async delete(this: IHookFunctions): Promise<boolean> {
				return true;
			},
		},
	};

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		const response = this.getResponseObject();
		const answer = (reply: WebhookReply): IWebhookResponseData => {
			const wire = renderReply(reply);
			response.status(wire.status).type(wire.contentType).send(wire.body);
			return { noWebhookResponse: true };
		};

		let outcome: WebhookOutcome;
		try {
			const channelId = this.getNodeParameter('channel') as string;
			const channel = channelById(channelId);
			if (!channel) throw new NodeOperationError(this.getNode(), `Unknown channel "${channelId}"`);
			const config = channelConfig(channel, channelSettings(this, channelId));
			outcome = await handleWebhook(await omnithreadForNode(this), channel, config, await webhookRequest(this));
		} catch (error) {
			// Store down or node misconfigured: never crash n8n; 503 makes the provider deliver again later.
			const reason = error instanceof Error ? error.message : String(error);
			this.logger.error(`Omnithread Trigger: delivery not recorded: ${reason}`);
			return answer({ status: 503, body: { error: `Not recorded, please retry: ${reason}` } });
		}

		const { reply, recorded } = outcome;
		const workflowData = [recorded.map(triggerItem)];
		if (reply.status !== 200 || isProviderReply(reply)) {
			// Refused (bad signature 401/403, malformed 400: nothing recorded), a provider handshake, or a
			// store failure part-way through a batch (503): the messages recorded before it still start the
			// workflow now, since the provider's retry of the batch will skip them as redeliveries.
			answer(reply);
			return recorded.length ? { workflowData, noWebhookResponse: true } : { noWebhookResponse: true };
		}
		// Only redeliveries: the workflow already ran for these messages.
		if (recorded.length === 0) return { webhookResponse: reply.body };
		if (this.getNodeParameter('responseMode', 'onReceived') === 'onReceived') {
			return { workflowData, webhookResponse: reply.body };
		}
		return { workflowData };
	}
}
