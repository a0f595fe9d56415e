import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes, NodeOperationError } from 'n8n-workflow';
import {
	AGENT_KINDS,
	AGENT_STATUSES,
	runHandoffOperation,
	runRosterOperation,
	type HandoffOperation,
	type Omnithread,
	type RosterOperation,
} from '../../../shared';
import {
	errorItem,
	jsonParameter,
	omnithreadForNode,
	omnithreadStoreApiTest,
	optionalText,
	resultItems,
	toNodeError,
	type FieldLabels,
} from '../common';

/** Error descriptions name the parameter behind the field the core reports. */
const LABELS: FieldLabels = {
	conversationId: 'Conversation ID',
	handoffId: 'Handoff ID',
	toAgentId: 'To Agent ID',
	queue: 'Queue',
	reason: 'Reason',
	fromAgentId: 'From Agent ID',
	botAttempts: 'Bot Attempts',
	classification: 'Classification',
	priority: 'Priority',
	summary: 'Summary',
	maxTokens: 'Max Tokens',
	slaMinutes: 'SLA Minutes',
	offerTimeoutSeconds: 'Offer Timeout Seconds',
	agentId: 'Agent ID',
	id: 'Agent ID',
	name: 'Agent Fields > Name',
	kind: 'Agent Fields > Kind',
	status: 'Status',
	skills: 'Agent Fields > Skills',
	languages: 'Agent Fields > Languages',
	channels: 'Agent Fields > Channels',
	capacity: 'Agent Fields > Capacity',
	channelCosts: 'Agent Fields > Channel Costs (JSON)',
	attributes: 'Agent Fields > Attributes (JSON)',
	aiConfidenceThreshold: 'Agent Fields > AI Confidence Threshold',
	agents: 'Roster (JSON)',
	roster: 'Roster (JSON)',
};

const HANDOFF_OPS: readonly string[] = ['handOff', 'accept', 'release', 'resolve', 'escalate', 'state'] satisfies HandoffOperation[];

const titled = (values: readonly string[]) =>
	values.map((value) => ({ name: value[0].toUpperCase() + value.slice(1), value })).sort((a, b) => a.name.localeCompare(b.name));

/** A list parameter: an array from an expression, or text split on `separator`. */
function list(value: unknown, separator: RegExp): string[] | undefined {
	const values = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? value.split(separator) : [];
	const trimmed = values.map((v) => v.trim()).filter(Boolean);
	return trimmed.length ? trimmed : undefined;
}

/** Skills as "billing:4, refunds" (a level after a colon, else level 3), or an object/array from an expression. */
function skills(value: unknown): unknown {
	if (typeof value !== 'string') return value;
	const entries = list(value, /,/);
	if (!entries) return undefined;
	if (!entries.some((e) => e.includes(':'))) return entries;
	return Object.fromEntries(
		entries.map((entry) => {
			const [name, level] = entry.split(':').map((s) => s.trim());
			return [name, level ? Number(level) : 3];
		}),
	);
}

const show = (resource: string, operation: string[]) => ({ show: { resource: [resource], operation } });

const conversationId = (operations: string[]): INodeProperties => ({
	displayName: 'Conversation ID',
	name: 'conversationId',
	type: 'string',
	default: '={{ $json.conversationId }}',
	required: true,
	description: 'ID of the conversation handed off. By default taken from the input item (AI Route output).',
	displayOptions: show('handoff', operations),
});

const agentId = (resource: string, operations: string[], description: string): INodeProperties => ({
	displayName: 'Agent ID',
	name: 'agentId',
	type: 'string',
	default: '',
	required: true,
	description,
	displayOptions: show(resource, operations),
});

/** Maps this item's parameters to the input of one shared handoff operation. */
function handoffInput(context: IExecuteFunctions, operation: string, itemIndex: number): Record<string, unknown> {
	const node = context.getNode();
	const param = (name: string, fallback: unknown = '') => context.getNodeParameter(name, itemIndex, fallback);
	const text = (name: string) => optionalText(param(name));
	const conversation = text('conversationId');
	const input: Record<string, unknown> = conversation ? { conversationId: conversation } : {};
	switch (operation) {
		case 'handOff': {
			const classification = jsonParameter(node, param('classification', ''), 'Classification', itemIndex);
			const slaMinutes = param('slaMinutes', 0) as number;
			Object.assign(input, {
				...(text('toAgentId') ? { toAgentId: text('toAgentId') } : {}),
				...(text('queue') ? { queue: text('queue') } : {}),
				reason: String(param('reason') ?? ''),
				...(text('fromAgentId') ? { fromAgentId: text('fromAgentId') } : {}),
				botAttempts: list(param('botAttempts'), /\r?\n/) ?? [],
				...(classification !== undefined && classification !== null && classification !== '' ? { classification } : {}),
				...(text('priority') ? { priority: text('priority') } : {}),
				...(text('summary') ? { summary: text('summary') } : {}),
				maxTokens: param('maxTokens', 1500),
				...(slaMinutes ? { slaMinutes } : {}),
				offerTimeoutSeconds: param('offerTimeoutSeconds', 120),
				...(text('idempotencyKey') ? { idempotencyKey: text('idempotencyKey') } : {}),
			});
			return input;
		}
		case 'accept':
			return { ...input, agentId: String(param('agentId') ?? '') };
		case 'release':
			return { ...input, agentId: String(param('agentId') ?? ''), ...(text('reason') ? { reason: text('reason') } : {}) };
		case 'resolve':
			return { ...input, ...(text('agentId') ? { agentId: text('agentId') } : {}) };
		default:
			return input;
	}
}

/** Maps this item's parameters to the input of one shared roster operation. */
function rosterInput(context: IExecuteFunctions, operation: string, itemIndex: number): Record<string, unknown> {
	const node = context.getNode();
	const param = (name: string, fallback: unknown = '') => context.getNodeParameter(name, itemIndex, fallback);
	switch (operation) {
		case 'upsertAgent': {
			const f = param('agentFields', {}) as IDataObject;
			const agent: Record<string, unknown> = { id: String(param('agentId') ?? '').trim() };
			if (optionalText(f.name)) agent.name = optionalText(f.name);
			if (optionalText(f.kind)) agent.kind = f.kind;
			if (optionalText(f.status)) agent.status = f.status;
			const s = skills(f.skills);
			if (s !== undefined) agent.skills = s;
			const languages = list(f.languages, /,/);
			if (languages) agent.languages = languages;
			const channels = list(f.channels, /,/);
			if (channels) agent.channels = channels;
			if (f.capacity !== undefined) agent.capacity = f.capacity;
			const costs = jsonParameter(node, f.channelCosts, 'Agent Fields > Channel Costs (JSON)', itemIndex);
			if (costs !== undefined) agent.channelCosts = costs;
			const attributes = jsonParameter(node, f.attributes, 'Agent Fields > Attributes (JSON)', itemIndex);
			if (attributes !== undefined) agent.attributes = attributes;
			if (f.aiConfidenceThreshold !== undefined) agent.aiConfidenceThreshold = f.aiConfidenceThreshold;
			return { agent };
		}
		case 'setStatus':
			return { agentId: String(param('agentId') ?? '').trim(), status: param('status', 'available') };
		case 'getAgent':
		case 'removeAgent':
			return { agentId: String(param('agentId') ?? '').trim() };
		case 'listAgents': {
			const filters = param('filters', {}) as IDataObject;
			const filter = Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== '' && v !== undefined && v !== null));
			return { filter };
		}
		case 'importRoster':
			return { roster: jsonParameter(node, param('roster', '[]'), 'Roster (JSON)', itemIndex) ?? [] };
		case 'loads': {
			const ids = list(param('agentIds'), /,/);
			return ids ? { agentIds: ids } : {};
		}
		default:
			throw new NodeOperationError(node, `Unknown operation "${operation}"`, { itemIndex });
	}
}

export class OmnithreadHandoff implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Omnithread Handoff',
		name: 'omnithreadHandoff',
		icon: { light: 'file:handoff.svg', dark: 'file:handoff.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
		description:
			'Hands a conversation off to a person or a queue with a packet (transcript, summary, intent, what the bot tried, open channel windows, SLA), tracks the offer through acceptance and resolution, and manages the roster of human and AI agents',
		defaults: { name: 'Omnithread Handoff' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'omnithreadStoreApi', displayName: 'Store (Empty: Embedded SQLite)', required: false, testedBy: 'omnithreadStoreApiTest' }],
		properties: [
			{
				displayName: 'Resource',
				name: 'resource',
				type: 'options',
				noDataExpression: true,
				options: [
					{ name: 'Agent', value: 'agent', description: 'The roster of human and AI agents' },
					{ name: 'Handoff', value: 'handoff', description: 'A conversation handed off to a person or a queue' },
				],
				default: 'handoff',
				description: 'What to work on',
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['handoff'] } },
				options: [
					{
						name: 'Accept',
						value: 'accept',
						description: 'The agent takes the conversation offered to them (or waiting in a queue)',
						action: 'Accept a handoff',
					},
					{
						name: 'Escalate Expired Offer',
						value: 'escalate',
						description: 'An offer nobody accepted in time goes to the least loaded available human not yet offered it',
						action: 'Escalate an expired handoff offer',
					},
					{
						name: 'Get State',
						value: 'state',
						description: 'Where the handoff of a conversation stands: offered, queued, expired, accepted or resolved',
						action: 'Get the state of a handoff',
					},
					{
						name: 'Hand Off',
						value: 'handOff',
						description: 'Offer the conversation to an agent, or put it in a queue, with a handoff packet',
						action: 'Hand off a conversation',
					},
					{
						name: 'Release',
						value: 'release',
						description: 'The agent gives the conversation back: it waits in the queue again',
						action: 'Release a handoff',
					},
					{
						name: 'Resolve',
						value: 'resolve',
						description: 'The handoff is done and the conversation resolved',
						action: 'Resolve a handoff',
					},
				],
				default: 'handOff',
				description: 'What to do with the handoff',
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['agent'] } },
				options: [
					{ name: 'Get', value: 'getAgent', description: 'One agent by ID', action: 'Get an agent' },
					{ name: 'Get Loads', value: 'loads', description: 'How loaded each agent is, by its open conversations', action: 'Get agent loads' },
					{
						name: 'Import Roster (JSON)',
						value: 'importRoster',
						description: 'Create or update many agents from a JSON array (or { agents: [...] })',
						action: 'Import a roster',
					},
					{ name: 'List', value: 'listAgents', description: 'The agents of the roster, optionally filtered', action: 'List agents' },
					{ name: 'Remove', value: 'removeAgent', description: 'Remove an agent from the roster', action: 'Remove an agent' },
					{ name: 'Set Status', value: 'setStatus', description: 'Mark an agent available, away or offline', action: 'Set the status of an agent' },
					{ name: 'Upsert', value: 'upsertAgent', description: 'Create an agent, or update the one with this ID', action: 'Create or update an agent' },
				],
				default: 'listAgents',
				description: 'What to do with the roster',
			},

			// Handoff
			conversationId(['handOff', 'accept', 'release', 'resolve', 'escalate', 'state']),
			{
				displayName: 'To Agent ID',
				name: 'toAgentId',
				type: 'string',
				default: '',
				description: 'The agent offered the conversation. Empty: it waits in the queue.',
				displayOptions: show('handoff', ['handOff']),
			},
			{
				displayName: 'Queue',
				name: 'queue',
				type: 'string',
				default: '',
				placeholder: 'default',
				description: 'The queue it waits in when no agent is given (default "default")',
				displayOptions: show('handoff', ['handOff']),
			},
			{
				displayName: 'Reason',
				name: 'reason',
				type: 'string',
				default: '',
				required: true,
				placeholder: 'Customer asked for a person',
				description: 'Why the conversation is handed off, shown to the agent',
				displayOptions: show('handoff', ['handOff']),
			},
			{
				displayName: 'From Agent ID',
				name: 'fromAgentId',
				type: 'string',
				default: '',
				description: 'The bot or agent handing off, if any',
				displayOptions: show('handoff', ['handOff']),
			},
			{
				displayName: 'Bot Attempts',
				name: 'botAttempts',
				type: 'string',
				typeOptions: { rows: 3 },
				default: '',
				description: 'What the bot already tried, one per line',
				displayOptions: show('handoff', ['handOff']),
			},
			{
				displayName: 'Classification',
				name: 'classification',
				type: 'json',
				default: '={{ $json.classification }}',
				description: 'The AI Route classification (intent, language, sentiment, urgency) for the packet and the priority',
				displayOptions: show('handoff', ['handOff']),
			},
			{
				displayName: 'Priority',
				name: 'priority',
				type: 'options',
				options: [
					{ name: 'From Classification', value: '', description: 'High urgency is high priority; else normal' },
					{ name: 'High', value: 'high', description: 'High priority' },
					{ name: 'Normal', value: 'normal', description: 'Normal priority' },
					{ name: 'Urgent', value: 'urgent', description: 'Urgent' },
				],
				default: '',
				description: 'Priority of the handoff; sets the default SLA (urgent 15, high 60, normal 240 minutes)',
				displayOptions: show('handoff', ['handOff']),
			},
			{
				displayName: 'Summary',
				name: 'summary',
				type: 'string',
				typeOptions: { rows: 3 },
				default: '',
				description: "Summary for the agent. Empty: the customer's first message and the latest ones.",
				displayOptions: show('handoff', ['handOff']),
			},
			{
				displayName: 'Max Tokens',
				name: 'maxTokens',
				type: 'number',
				typeOptions: { minValue: 50, maxValue: 200000 },
				default: 1500,
				description: "Budget of the packet's transcript in tokens (about 4 characters each)",
				displayOptions: show('handoff', ['handOff']),
			},
			{
				displayName: 'SLA Minutes',
				name: 'slaMinutes',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 0,
				description: 'Minutes until the handoff is due. 0: by priority (urgent 15, high 60, normal 240).',
				displayOptions: show('handoff', ['handOff']),
			},
			{
				displayName: 'Offer Timeout Seconds',
				name: 'offerTimeoutSeconds',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 120,
				description: 'Seconds the offered agent has to accept before Escalate Expired Offer passes it on',
				displayOptions: show('handoff', ['handOff']),
			},
			{
				displayName: 'Idempotency Key',
				name: 'idempotencyKey',
				type: 'string',
				default: '',
				description: 'A key of yours that makes handing off safe to retry: a second call with the same key returns the first handoff',
				displayOptions: show('handoff', ['handOff']),
			},
			agentId('handoff', ['accept', 'release'], 'ID of the agent taking or giving back the conversation'),
			{
				displayName: 'Agent ID',
				name: 'agentId',
				type: 'string',
				default: '',
				description: 'ID of the agent who resolved it, if any',
				displayOptions: show('handoff', ['resolve']),
			},
			{
				displayName: 'Reason',
				name: 'reason',
				type: 'string',
				default: '',
				description: 'Why the agent gives it back',
				displayOptions: show('handoff', ['release']),
			},

			// Agent
			agentId('agent', ['upsertAgent', 'setStatus', 'getAgent', 'removeAgent'], 'ID of the agent (letters, digits, ".", "_", ":", "@" or "-")'),
			{
				displayName: 'Status',
				name: 'status',
				type: 'options',
				options: titled(AGENT_STATUSES),
				default: 'available',
				description: 'Only available agents are routed to',
				displayOptions: show('agent', ['setStatus']),
			},
			{
				displayName: 'Agent Fields',
				name: 'agentFields',
				type: 'collection',
				placeholder: 'Add Field',
				default: {},
				description: 'The agent; unset fields keep their defaults',
				displayOptions: show('agent', ['upsertAgent']),
				options: [
					{
						displayName: 'AI Confidence Threshold',
						name: 'aiConfidenceThreshold',
						type: 'number',
						typeOptions: { minValue: 0, maxValue: 1, numberPrecision: 2 },
						default: 0.7,
						description: 'AI agents only: below this classification confidence, the conversation goes to a human',
					},
					{
						displayName: 'Attributes (JSON)',
						name: 'attributes',
						type: 'json',
						default: '{}',
						description: 'Any details of yours as a JSON object',
					},
					{
						displayName: 'Capacity',
						name: 'capacity',
						type: 'number',
						typeOptions: { minValue: 1, maxValue: 1000 },
						default: 100,
						description: 'How much the agent can take: a call costs 100, a chat 20, an email 10',
					},
					{
						displayName: 'Channel Costs (JSON)',
						name: 'channelCosts',
						type: 'json',
						default: '{}',
						description: 'What one conversation on a channel costs of the capacity, e.g. {"email": 5}',
					},
					{
						displayName: 'Channels',
						name: 'channels',
						type: 'string',
						default: '',
						placeholder: 'email, whatsapp',
						description: 'Comma-separated channels the agent works; empty means every channel',
					},
					{
						displayName: 'Kind',
						name: 'kind',
						type: 'options',
						options: titled(AGENT_KINDS).map((o) => (o.value === 'ai' ? { ...o, name: 'AI' } : o)),
						default: 'human',
						description: 'A person, or an AI agent (never given a customer who asks for a person)',
					},
					{
						displayName: 'Languages',
						name: 'languages',
						type: 'string',
						default: '',
						placeholder: 'en, de',
						description: 'Comma-separated languages the agent speaks',
					},
					{
						displayName: 'Name',
						name: 'name',
						type: 'string',
						default: '',
						description: 'Display name (default: the ID)',
					},
					{
						displayName: 'Skills',
						name: 'skills',
						type: 'string',
						default: '',
						placeholder: 'billing:4, refunds',
						description: 'Comma-separated skills, each with an optional level 1-5 after a colon (default 3)',
					},
					{
						displayName: 'Status',
						name: 'status',
						type: 'options',
						options: titled(AGENT_STATUSES),
						default: 'available',
						description: 'Only available agents are routed to',
					},
				],
			},
			{
				displayName: 'Filters',
				name: 'filters',
				type: 'collection',
				placeholder: 'Add Filter',
				default: {},
				description: 'Only agents that match all of these',
				displayOptions: show('agent', ['listAgents']),
				options: [
					{ displayName: 'Channel', name: 'channel', type: 'string', default: '', description: 'Agents working this channel' },
					{
						displayName: 'Kind',
						name: 'kind',
						type: 'options',
						options: titled(AGENT_KINDS).map((o) => (o.value === 'ai' ? { ...o, name: 'AI' } : o)),
						default: 'human',
						description: 'Humans or AI agents',
					},
					{ displayName: 'Language', name: 'language', type: 'string', default: '', description: 'Agents speaking this language' },
					{ displayName: 'Skill', name: 'skill', type: 'string', default: '', description: 'Agents holding this skill' },
					{
						displayName: 'Status',
						name: 'status',
						type: 'options',
						options: titled(AGENT_STATUSES),
						default: 'available',
						description: 'Agents with this status',
					},
				],
			},
			{
				displayName: 'Roster (JSON)',
				name: 'roster',
				type: 'json',
				default: '[]',
				required: true,
				description:
					'An array of agents (or { "agents": [...] }), e.g. [{"id": "anna", "skills": {"billing": 4}, "languages": ["en"]}]; agents with an existing ID are updated',
				displayOptions: show('agent', ['importRoster']),
			},
			{
				displayName: 'Agent IDs',
				name: 'agentIds',
				type: 'string',
				default: '',
				placeholder: 'anna, ben',
				description: 'Comma-separated agent IDs; empty for every agent',
				displayOptions: show('agent', ['loads']),
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
				const resource = this.getNodeParameter('resource', itemIndex) as string;
				const operation = this.getNodeParameter('operation', itemIndex) as string;
				let result: unknown;
				if (resource === 'handoff') {
					if (!HANDOFF_OPS.includes(operation)) throw new NodeOperationError(this.getNode(), `Unknown operation "${operation}"`, { itemIndex });
					const input = handoffInput(this, operation, itemIndex);
					result = await runHandoffOperation(omnithread, operation as HandoffOperation, input);
					if (result === undefined && operation === 'state') result = { conversationId: input.conversationId, found: false };
				} else {
					const input = rosterInput(this, operation, itemIndex);
					result = await runRosterOperation(omnithread, operation as RosterOperation, input);
					if (result === null && operation === 'getAgent') result = { agentId: input.agentId, found: false };
				}
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
