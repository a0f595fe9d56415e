import type {
	IDataObject,
	IHookFunctions,
	INodeExecutionData,
	INodeProperties,
	INodeType,
	INodeTypeDescription,
	IWebhookFunctions,
	IWebhookResponseData,
	JsonObject,
} from 'n8n-workflow';
import { NodeApiError, NodeConnectionTypes, NodeOperationError } from 'n8n-workflow';
import {
	CHANNELS,
	channelById,
	channelConfig,
	failureReply,
	handleWebhook,
	isOmnithreadError,
	isProviderReply,
	renderReply,
	telegramDeleteWebhook,
	telegramSetWebhook,
	telegramWebhookInfo,
	triggerOutput,
	type IngestResult,
	type WebhookOutcome,
	type WebhookReply,
	type WebhookRequest,
} from '../../../shared';
import { omnithreadForNode, omnithreadStoreApiTest } from '../common';
import { n8nProperty } from '../fields';

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
	...Object.values(CHANNELS).flatMap((channel) => (channel.settingFields ?? []).map((field) => n8nProperty(field, { show: { channel: [channel.id] } }))),
];

/** The settings of one channel, as given in the node, for the channel module to validate. */
function channelSettings(context: IWebhookFunctions | IHookFunctions, channelId: string): IDataObject {
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
		url: `${publicWebhookUrl(context) ?? ''}${query}`,
	};
}

/**
 * The URL the provider called (Twilio signs it): the production URL, or on a test run ("Listen for test
 * event") the /webhook-test/ URL. n8n versions without getWebhookResourceUrl only know the production one.
 */
function publicWebhookUrl(context: IWebhookFunctions): string | undefined {
	const served = typeof context.getWebhookResourceUrl === 'function' ? context.getWebhookResourceUrl('default') : undefined;
	return served ?? context.getNodeWebhookUrl('default');
}

/**
 * The shared Telegram helpers take an axios instance; a community node must not import axios (n8n's
 * lint forbids runtime dependencies), so they get n8n's own HTTP helper behind the two calls they make.
 * HTTP errors are thrown axios-style (error.response.status / data) for the helpers' error mapping.
 */
/** What the shared helpers call HTTP with (an axios instance; typed from them so axios is not imported). */
type HttpClient = Parameters<typeof telegramSetWebhook>[2];

function n8nHttp(context: IHookFunctions): HttpClient {
	const call = async (method: 'GET' | 'POST', url: string, body?: unknown) => {
		const response = (await context.helpers.httpRequest({
			method,
			url,
			...(body === undefined ? {} : { body: body as IDataObject, headers: { 'content-type': 'application/json' } }),
			json: true,
			returnFullResponse: true,
			ignoreHttpStatusErrors: true,
		})) as { body: unknown; statusCode: number; headers: IDataObject };
		if (response.statusCode >= 400) {
			const error = new Error(`Request failed with status code ${response.statusCode}`) as Error & IDataObject;
			error.isAxiosError = true;
			error.response = { status: response.statusCode, data: response.body as IDataObject, headers: response.headers };
			throw error;
		}
		return { data: response.body, status: response.statusCode, headers: response.headers };
	};
	return {
		get: async (url: string) => await call('GET', url),
		post: async (url: string, body?: unknown) => await call('POST', url, body),
	} as unknown as HttpClient;
}

interface TelegramRegistration {
	botToken: string;
	secretToken: string;
	apiBaseUrl?: string;
}

/** The Telegram settings that registering the webhook needs; undefined without a bot token (registered by hand). */
function telegramRegistration(context: IHookFunctions): TelegramRegistration | undefined {
	const channel = channelById('telegram');
	if (!channel || context.getNodeParameter('channel') !== 'telegram') return undefined;
	let config: { botToken?: string; secretToken?: string; apiBaseUrl?: string };
	try {
		config = channelConfig(channel, channelSettings(context, 'telegram')) as typeof config;
	} catch (error) {
		throw new NodeOperationError(context.getNode(), error as Error, {
			description: 'The Telegram settings of the Omnithread Trigger are not valid, so the webhook could not be registered with Telegram.',
		});
	}
	if (!config.botToken) return undefined;
	return { botToken: config.botToken, secretToken: config.secretToken ?? '', ...(config.apiBaseUrl ? { apiBaseUrl: config.apiBaseUrl } : {}) };
}

/** A Telegram refusal as the error n8n shows on activation. */
function telegramNodeError(context: IHookFunctions, action: string, error: unknown): NodeApiError | NodeOperationError {
	if (isOmnithreadError(error, 'INVALID_INPUT')) {
		return new NodeOperationError(context.getNode(), error, {
			message: `Could not ${action}: ${error.message}`,
			description: 'Check the Telegram settings of the Omnithread Trigger (Secret Token, Bot Token).',
		});
	}
	const message = error instanceof Error ? error.message : String(error);
	const code = isOmnithreadError(error) ? error.code : undefined;
	const details = isOmnithreadError(error) ? (error.details as { status?: number } | undefined) : undefined;
	return new NodeApiError(context.getNode(), { message, ...(code ? { code } : {}) } as JsonObject, {
		message: `Telegram refused to ${action}: ${message}`,
		description:
			code === 'AUTH_FAILED'
				? 'Check the Bot Token (from @BotFather) in the Omnithread Trigger.'
				: 'Telegram answered with an error; the workflow was not activated. Check the Bot Token and that this n8n instance has a public https URL (WEBHOOK_URL).',
		...(details?.status ? { httpCode: String(details.status) } : {}),
	});
}

/** One output item per newly recorded message. */
function triggerItem(result: IngestResult): INodeExecutionData {
	return { json: triggerOutput(result) as unknown as IDataObject };
}

export class OmnithreadTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Omnithread Trigger',
		name: 'omnithreadTrigger',
		icon: { light: 'file:trigger.svg', dark: 'file:trigger.dark.svg' },
		group: ['trigger'],
		version: 1,
		subtitle: '={{"Channel: " + $parameter["channel"]}}',
		description:
			'Starts the workflow when a customer message arrives on a channel. Checks the signature, records the message on the sender\'s cross-channel timeline (recognising them across channels) and skips redeliveries.',
		defaults: { name: 'Omnithread Trigger' },
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'omnithreadStoreApi', displayName: 'Store (Empty: Embedded SQLite)', required: false, testedBy: 'omnithreadStoreApiTest' }],
		webhooks: [
			{
				// Providers' verification handshakes (Meta's hub.challenge, X's CRC) are GETs on the same URL.
				name: 'setup',
				httpMethod: 'GET',
				responseMode: 'onReceived',
				path: 'webhook',
			},
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
						description:
							"A Respond to Webhook node at version 1 sends the response. n8n's newer versions (1.1+) answer only behind n8n's own Webhook, Form, Chat or Wait nodes: prefer When Last Node Finishes",
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
			// Telegram (with a Bot Token) is registered here with setWebhook, as n8n's Telegram Trigger does. The
			// other channels are configured in the provider's console with the URL: nothing to register.
			async checkExists(this: IHookFunctions): Promise<boolean> {
				const telegram = telegramRegistration(this);
				if (!telegram) return true;
				try {
					const info = (await telegramWebhookInfo(telegram, n8nHttp(this))) as { url?: unknown } | undefined;
					return info?.url === this.getNodeWebhookUrl('default');
				} catch (error) {
					throw telegramNodeError(this, 'read the webhook (getWebhookInfo)', error);
				}
			},
			async create(this: IHookFunctions): Promise<boolean> {
				const telegram = telegramRegistration(this);
				if (!telegram) return true;
				const url = this.getNodeWebhookUrl('default');
				if (!url) throw new NodeOperationError(this.getNode(), 'n8n did not give this node a webhook URL');
				try {
					await telegramSetWebhook(url, telegram, n8nHttp(this));
				} catch (error) {
					throw telegramNodeError(this, 'register the webhook (setWebhook)', error);
				}
				return true;
			},
			async delete(this: IHookFunctions): Promise<boolean> {
				try {
					// Never blocks deactivation: a failure is logged and reported to n8n as not deleted.
					const telegram = telegramRegistration(this);
					if (!telegram) return true;
					await telegramDeleteWebhook(telegram, n8nHttp(this));
				} catch (error) {
					this.logger.warn(`Omnithread Trigger: Telegram deleteWebhook failed: ${error instanceof Error ? error.message : String(error)}`);
					return false;
				}
				return true;
			},
		},
	};

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		const response = this.getResponseObject();
		const answer = (reply: WebhookReply): IWebhookResponseData => {
			const wire = renderReply(reply);
			response.status(wire.status).set(wire.headers).type(wire.contentType).send(wire.body);
			return { noWebhookResponse: true };
		};

		let channel: ReturnType<typeof channelById>;
		let config: unknown;
		try {
			const channelId = this.getNodeParameter('channel') as string;
			channel = channelById(channelId);
			if (!channel) throw new NodeOperationError(this.getNode(), `Unknown channel "${channelId}"`);
			config = channelConfig(channel, channelSettings(this, channelId));
		} catch (error) {
			// The node is misconfigured: an error of ours, not of the delivery (never a 400 or a 503).
			const reason = error instanceof Error ? error.message : String(error);
			this.logger.error(`Omnithread Trigger: delivery not recorded, this trigger's settings are invalid: ${reason}`);
			return answer({ status: 500, body: { error: `Not recorded: this trigger's settings are invalid: ${reason}` } });
		}
		let outcome: WebhookOutcome;
		try {
			outcome = await handleWebhook(await omnithreadForNode(this), channel, config, await webhookRequest(this));
		} catch (error) {
			// Never crash n8n: 503 (with Retry-After) only when the store is unreachable, so the provider delivers again.
			const reply = failureReply(error);
			this.logger.error(`Omnithread Trigger: delivery not recorded (${reply.status}): ${(reply.body as { error: string }).error}`);
			return answer(reply);
		}

		const { reply, recorded } = outcome;
		// The GET setup webhook: a handshake's answer (or 405), always written as the provider expects it.
		if (this.getWebhookName() === 'setup') return answer(reply);
		const workflowData = [recorded.map(triggerItem)];
		if (reply.status !== 200 || isProviderReply(reply)) {
			// Refused (bad signature 401/403, malformed 400: nothing recorded), a provider handshake, or a
			// store failure part-way through a batch (503): the messages recorded before it still start the
			// workflow now, since the provider's retry of the batch will skip them as redeliveries.
			answer(reply);
			return recorded.length ? { workflowData, noWebhookResponse: true } : { noWebhookResponse: true };
		}
		// Headers the channel wants on its answer (CORS for the web chat widget): n8n answers webhookResponse
		// on this same response object, so they stay.
		if (reply.headers && Object.keys(reply.headers).length) response.set(reply.headers);
		// Only redeliveries: the workflow already ran for these messages.
		if (recorded.length === 0) return { webhookResponse: reply.body };
		if (this.getNodeParameter('responseMode', 'onReceived') === 'onReceived') {
			return { workflowData, webhookResponse: reply.body };
		}
		return { workflowData };
	}
}
