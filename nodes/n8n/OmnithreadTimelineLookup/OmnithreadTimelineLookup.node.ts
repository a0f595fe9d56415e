import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes, NodeOperationError } from 'n8n-workflow';
import {
	APPENDABLE_EVENT_KINDS,
	KNOWN_CHANNELS,
	runTimelineOperation,
	type Omnithread,
	type TimelineFilter,
	type TimelineOperation,
} from '../../../shared';
import {
	errorItem,
	omnithreadForNode,
	jsonParameter,
	omnithreadStoreApiTest,
	optionalText,
	resultItems,
	toNodeError,
	type FieldLabels,
} from '../common';

/** Error descriptions name the parameter behind the field the core reports. */
const LABELS: FieldLabels = {
	contactId: 'Contact ID',
	channels: 'Filters > Channels',
	kinds: 'Filters > Kinds',
	since: 'Filters > Since',
	until: 'Filters > Until',
	conversationId: 'Conversation ID',
	cursor: 'Filters > Cursor',
	limit: 'Limit',
	maxTokens: 'Max Tokens',
	kind: 'Kind',
	channel: 'Channel',
	data: 'Data (JSON)',
	idempotencyKey: 'Idempotency Key',
	from: 'From',
	to: 'To',
	bucket: 'Bucket',
	agentId: 'Agent ID',
};

/** A list parameter: an array from an expression, or comma-separated text. */
function list(value: unknown): string[] | undefined {
	const values = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? value.split(',') : [];
	const trimmed = values.map((v) => v.trim()).filter(Boolean);
	return trimmed.length ? trimmed : undefined;
}

/** n8n's date picker gives local date-times without an offset; the core wants ISO-8601 with one. */
function isoDate(value: unknown): string | number | undefined {
	if (value === undefined || value === null || value === '') return undefined;
	if (typeof value === 'number') return value;
	if (value instanceof Date) return value.toISOString();
	if (typeof value === 'object' && typeof (value as { toISO?: unknown }).toISO === 'function') {
		return (value as { toISO: () => string }).toISO();
	}
	const text = String(value);
	const ms = Date.parse(text);
	return Number.isNaN(ms) ? text : new Date(ms).toISOString();
}

/** Maps this item's parameters to one shared timeline operation. */
function timelineOperation(context: IExecuteFunctions, itemIndex: number): TimelineOperation {
	const node = context.getNode();
	const param = (name: string, fallback: unknown = '') => context.getNodeParameter(name, itemIndex, fallback);
	const operation = param('operation') as string;
	const contactId = param('contactId') as string;
	switch (operation) {
		case 'getEvents':
		case 'getTimeline': {
			const filters = param('filters', {}) as IDataObject;
			const filter: TimelineFilter = {
				channels: list(filters.channels),
				kinds: list(filters.kinds),
				since: isoDate(filters.since),
				until: isoDate(filters.until),
				conversationId: optionalText(filters.conversationId),
				cursor: optionalText(filters.cursor),
				order: param('order', 'chronological') as TimelineFilter['order'],
				limit: param('limit', 100) as number,
			};
			return { operation: operation === 'getEvents' ? 'items' : 'timeline', contactId, filter };
		}
		case 'getTranscript':
			return { operation: 'transcript', contactId, maxTokens: param('maxTokens', 2000) as number };
		case 'appendEvent':
			return {
				operation: 'append',
				contactId,
				kind: param('kind', 'note') as string,
				text: param('text') as string,
				channel: optionalText(param('channel')),
				conversationId: optionalText(param('conversationId')),
				data: (jsonParameter(node, param('data', '{}'), 'Data (JSON)', itemIndex) ?? {}) as Record<string, unknown>,
				idempotencyKey: optionalText(param('idempotencyKey')),
			};
		case 'getMetrics':
			return {
				operation: 'metrics',
				from: isoDate(param('metricsFrom')),
				to: isoDate(param('metricsTo')),
				bucket: param('bucket', 'day') as 'hour' | 'day' | 'week',
				channel: optionalText(param('metricsChannel')),
				agentId: optionalText(param('agentId')),
			};
		default:
			throw new NodeOperationError(node, `Unknown operation "${operation}"`, { itemIndex });
	}
}

export class OmnithreadTimelineLookup implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Omnithread Timeline Lookup',
		name: 'omnithreadTimelineLookup',
		icon: { light: 'file:timeline.svg', dark: 'file:timeline.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"]}}',
		description:
			"Reads a customer's one timeline across every channel (web chat, email, WhatsApp, phone...), as events, as a whole, or as a transcript for people and AI prompts; appends events of your own to it; and reports continuity metrics",
		defaults: { name: 'Omnithread Timeline Lookup' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'omnithreadStoreApi', displayName: 'Store (Empty: Embedded SQLite)', required: false, testedBy: 'omnithreadStoreApiTest' }],
		properties: [
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				options: [
					{
						name: 'Append Event',
						value: 'appendEvent',
						description: "Add a note, an assignment or an event of your own to the contact's timeline",
						action: 'Append an event to a timeline',
					},
					{
						name: 'Get Events',
						value: 'getEvents',
						description: 'Timeline events, one item each',
						action: 'Get timeline events',
					},
					{
						name: 'Get Metrics',
						value: 'getMetrics',
						description:
							'Continuity metrics of the whole workspace over a period: first response, resolution and handle times, repeat rate, channel switches, CSAT, AI vs human',
						action: 'Get continuity metrics',
					},
					{
						name: 'Get Timeline',
						value: 'getTimeline',
						description: 'One item with the contact, their conversations and their events',
						action: 'Get a timeline',
					},
					{
						name: 'Get Transcript',
						value: 'getTranscript',
						description:
							'The history as text within a token budget, for an agent or an LLM prompt: the current conversation in full, earlier ones condensed',
						action: 'Get a transcript',
					},
				],
				default: 'getTimeline',
				description: "What to do with the contact's timeline",
			},
			{
				displayName: 'Contact ID',
				name: 'contactId',
				type: 'string',
				default: '={{ $json.contactId ?? $json.contact?.id }}',
				required: true,
				description:
					'ID of the contact; events of every contact merged into it are included. By default taken from the input item (Omnithread Trigger or Identity Resolve output).',
				displayOptions: { hide: { operation: ['getMetrics'] } },
			},

			// Get Events, Get Timeline
			{
				displayName: 'Order',
				name: 'order',
				type: 'options',
				options: [
					{ name: 'Chronological', value: 'chronological', description: 'Oldest first' },
					{ name: 'Newest First', value: 'newest-first', description: 'Most recent first' },
				],
				default: 'chronological',
				description: 'Order of the events',
				displayOptions: { show: { operation: ['getEvents', 'getTimeline'] } },
			},
			{
				displayName: 'Limit',
				name: 'limit',
				type: 'number',
				typeOptions: { minValue: 1, maxValue: 1000 },
				default: 100,
				description: 'Max number of results to return; pass the returned nextCursor as Cursor for the next page',
				displayOptions: { show: { operation: ['getEvents', 'getTimeline'] } },
			},
			{
				displayName: 'Filters',
				name: 'filters',
				type: 'collection',
				placeholder: 'Add Filter',
				default: {},
				description: 'Only events that match all of these',
				displayOptions: { show: { operation: ['getEvents', 'getTimeline'] } },
				options: [
					{
						displayName: 'Channels',
						name: 'channels',
						type: 'multiOptions',
						options: [...KNOWN_CHANNELS].sort().map((channel) => ({ name: channel, value: channel })),
						default: [],
						description: 'Only events on these channels (use an expression for channel names of your own)',
					},
					{
						displayName: 'Conversation ID',
						name: 'conversationId',
						type: 'string',
						default: '',
						description: 'Only events of this conversation',
					},
					{
						displayName: 'Cursor',
						name: 'cursor',
						type: 'string',
						default: '',
						description: 'The nextCursor of the previous page',
					},
					{
						displayName: 'Kinds',
						name: 'kinds',
						type: 'string',
						default: '',
						placeholder: 'message, note',
						description:
							'Comma-separated event kinds: message, channel_switch, note, assignment, handoff, status_change, merge, unmerge, or kinds of your own',
					},
					{
						displayName: 'Since',
						name: 'since',
						type: 'dateTime',
						default: '',
						description: 'Only events at or after this time',
					},
					{
						displayName: 'Until',
						name: 'until',
						type: 'dateTime',
						default: '',
						description: 'Only events before this time',
					},
				],
			},

			// Get Transcript
			{
				displayName: 'Max Tokens',
				name: 'maxTokens',
				type: 'number',
				typeOptions: { minValue: 50, maxValue: 200000 },
				default: 2000,
				description: 'Budget of the transcript in tokens (about 4 characters each)',
				displayOptions: { show: { operation: ['getTranscript'] } },
			},

			// Get Metrics
			{
				displayName: 'From',
				name: 'metricsFrom',
				type: 'dateTime',
				default: '',
				description: 'Start of the period (included). Empty = 7 days before To.',
				displayOptions: { show: { operation: ['getMetrics'] } },
			},
			{
				displayName: 'To',
				name: 'metricsTo',
				type: 'dateTime',
				default: '',
				description: 'End of the period (excluded). Empty = now.',
				displayOptions: { show: { operation: ['getMetrics'] } },
			},
			{
				displayName: 'Bucket',
				name: 'bucket',
				type: 'options',
				options: [
					{ name: 'Day', value: 'day' },
					{ name: 'Hour', value: 'hour' },
					{ name: 'Week', value: 'week', description: 'Weeks start on Monday (UTC)' },
				],
				default: 'day',
				description: 'Size of each entry of the series (UTC), at most 1000 entries',
				displayOptions: { show: { operation: ['getMetrics'] } },
			},
			{
				displayName: 'Channel',
				name: 'metricsChannel',
				type: 'string',
				default: '',
				placeholder: 'whatsapp',
				description: 'Only conversations that started on this channel. Empty = all.',
				displayOptions: { show: { operation: ['getMetrics'] } },
			},
			{
				displayName: 'Agent ID',
				name: 'agentId',
				type: 'string',
				default: '',
				description: 'Only conversations this agent of the roster is responsible for. Empty = all.',
				displayOptions: { show: { operation: ['getMetrics'] } },
			},

			// Append Event
			{
				displayName: 'Kind',
				name: 'kind',
				type: 'string',
				default: 'note',
				required: true,
				description: `What happened: ${APPENDABLE_EVENT_KINDS.join(', ')}, or a kind of your own such as order_placed or csat`,
				displayOptions: { show: { operation: ['appendEvent'] } },
			},
			{
				displayName: 'Text',
				name: 'text',
				type: 'string',
				typeOptions: { rows: 3 },
				default: '',
				description: 'Text of the event, shown in timelines and transcripts',
				displayOptions: { show: { operation: ['appendEvent'] } },
			},
			{
				displayName: 'Data (JSON)',
				name: 'data',
				type: 'json',
				default: '{}',
				description: 'Any details as a JSON object, kept with the event',
				displayOptions: { show: { operation: ['appendEvent'] } },
			},
			{
				displayName: 'Channel',
				name: 'channel',
				type: 'string',
				default: '',
				placeholder: 'email',
				description: 'The channel the event belongs to, if any',
				displayOptions: { show: { operation: ['appendEvent'] } },
			},
			{
				displayName: 'Conversation ID',
				name: 'conversationId',
				type: 'string',
				default: '',
				description: "The conversation to add it to. Empty = the contact's open conversation, if any.",
				displayOptions: { show: { operation: ['appendEvent'] } },
			},
			{
				displayName: 'Idempotency Key',
				name: 'idempotencyKey',
				type: 'string',
				default: '',
				description:
					'A key of yours that makes appending safe to retry: a second append with the same key returns the first event',
				displayOptions: { show: { operation: ['appendEvent'] } },
			},
		],
	};

	methods = { credentialTest: { omnithreadStoreApiTest } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const output: INodeExecutionData[] = [];
		let omnithread: Omnithread | undefined;
		for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
			try {
				omnithread ??= await omnithreadForNode(this);
				const result = await runTimelineOperation(omnithread, timelineOperation(this, itemIndex));
				output.push(...resultItems(result, itemIndex));
			} catch (error) {
				if (this.continueOnFail()) {
					output.push(errorItem(error, itemIndex));
					continue;
				}
				throw toNodeError(this.getNode(), error, itemIndex, LABELS);
			}
		}
		return [output];
	}
}
