import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';
import {
	ROUTE_TARGET_KINDS,
	runRoute,
	type ChatModelLike,
	type LlmSettings,
	type Omnithread,
	type RouteRequest,
	type RouteTargetKind,
} from '../../../shared';
import {
	errorItem,
	jsonParameter,
	omnithreadForNode,
	omnithreadStoreApiTest,
	optionalText,
	toNodeError,
	type FieldLabels,
} from '../common';

const LLM_CREDENTIAL = 'omnithreadLlmApi';

/** Error descriptions name the parameter behind the field the core reports. */
const LABELS: FieldLabels = {
	contactId: 'Contact ID',
	eventId: 'Event ID',
	text: 'Text',
	channel: 'Channel',
	language: 'Language',
	rules: 'Intents',
	intents: 'Intents',
	llm: 'Omnithread LLM API credential',
	baseUrl: 'Omnithread LLM API credential',
	model: 'Omnithread LLM API credential',
	chatModel: 'Chat Model',
	options: 'Options',
	aiAgents: 'Options > AI Agents',
	answerFromHistory: 'Options > Answer From History',
	knownAgent: 'Options > Known Agent',
	requiredSkills: 'Options > Required Skills (JSON)',
	vip: 'Options > VIP Attributes (JSON)',
	queue: 'Options > Queue',
	maxWaitMinutes: 'Options > Max Wait Minutes',
	aiConfidenceThreshold: 'Options > AI Confidence Threshold',
};

/** The node's outputs, in the order of ROUTE_TARGET_KINDS. */
const OUTPUT_NAMES: Record<RouteTargetKind, string> = { ai: 'AI', human: 'Human', queue: 'Queue', answer: 'Answer' };

/** A list parameter: an array from an expression, or text split on `separator`. */
function list(value: unknown, separator: RegExp): string[] {
	const values = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? value.split(separator) : [];
	return values.map((v) => v.trim()).filter(Boolean);
}

/** The Intents fixedCollection as the classifier's rules. */
function rulesFrom(intents: IDataObject): RouteRequest['rules'] {
	const entries = (intents.intent as IDataObject[] | undefined) ?? [];
	if (!entries.length) return undefined;
	return {
		intents: entries.map((entry) => ({
			name: String(entry.name ?? ''),
			keywords: list(entry.keywords, /,/),
			patterns: list(entry.patterns, /\r?\n/),
			...(optionalText(entry.urgency) ? { urgency: optionalText(entry.urgency) } : {}),
		})),
	};
}

/** The Options collection as the route steps' settings (RouteOptionsSchema); unset options keep the core's defaults. */
function routeOptions(context: IExecuteFunctions, options: IDataObject, itemIndex: number): Record<string, unknown> {
	const node = context.getNode();
	const out: Record<string, unknown> = {};
	if (options.aiAgents !== undefined) out.aiAgents = options.aiAgents;
	const history: Record<string, unknown> = {};
	if (options.answerFromHistory !== undefined) history.enabled = options.answerFromHistory;
	if (options.minSimilarity !== undefined) history.minSimilarity = options.minSimilarity;
	if (options.answerMaxAgeDays !== undefined) history.maxAgeDays = options.answerMaxAgeDays;
	if (Object.keys(history).length) out.answerFromHistory = history;
	const known: Record<string, unknown> = {};
	if (options.knownAgent !== undefined) known.enabled = options.knownAgent;
	if (options.knownAgentMaxAgeDays !== undefined) known.maxAgeDays = options.knownAgentMaxAgeDays;
	if (Object.keys(known).length) out.knownAgent = known;
	const skills = jsonParameter(node, options.requiredSkills, 'Options > Required Skills (JSON)', itemIndex);
	if (skills !== undefined) out.requiredSkills = skills;
	const vip = jsonParameter(node, options.vipAttributes, 'Options > VIP Attributes (JSON)', itemIndex);
	if (vip !== undefined) out.vip = { attributes: vip };
	if (optionalText(options.queue)) out.queue = optionalText(options.queue);
	if (options.maxWaitMinutes !== undefined) out.maxWaitMinutes = options.maxWaitMinutes;
	if (options.aiConfidenceThreshold !== undefined) out.aiConfidenceThreshold = options.aiConfidenceThreshold;
	return out;
}

export class OmnithreadAiRoute implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Omnithread AI Route',
		name: 'omnithreadAiRoute',
		icon: { light: 'file:route.svg', dark: 'file:route.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: 'AI, human, queue or answer',
		description:
			"Classifies a customer message (intent, language, sentiment, urgency, asks for a person) and routes it: to an AI agent, to a human (the one who handled this person before on any channel, else the least loaded qualified one), to a queue, or back with the answer given to the same question before",
		defaults: { name: 'Omnithread AI Route' },
		usableAsTool: true,
		inputs: [
			NodeConnectionTypes.Main,
			{ type: NodeConnectionTypes.AiLanguageModel, displayName: 'Chat Model', required: false, maxConnections: 1 },
		],
		outputs: [NodeConnectionTypes.Main, NodeConnectionTypes.Main, NodeConnectionTypes.Main, NodeConnectionTypes.Main],
		outputNames: ROUTE_TARGET_KINDS.map((kind) => OUTPUT_NAMES[kind]),
		credentials: [
			{ name: 'omnithreadStoreApi', displayName: 'Store (Empty: Embedded SQLite)', required: false, testedBy: 'omnithreadStoreApiTest' },
			{ name: 'omnithreadLlmApi', displayName: 'LLM API (Optional Classifier)', required: false },
		],
		properties: [
			{
				displayName:
					'Classifies with the connected Chat Model, else with the Omnithread LLM API credential, else with the Intents rules below; a failing model falls back to the rules. Each item goes to the AI, Human, Queue or Answer output.',
				name: 'notice',
				type: 'notice',
				default: '',
			},
			{
				displayName: 'Contact ID',
				name: 'contactId',
				type: 'string',
				default: '={{ $json.contactId }}',
				required: true,
				description: 'ID of the contact who wrote the message. By default taken from the input item (Omnithread Trigger output).',
			},
			{
				displayName: 'Event ID',
				name: 'eventId',
				type: 'string',
				default: '={{ $json.event?.id }}',
				description:
					'ID of the message event being routed: it is never its own earlier answer, and routing it again returns the first decision',
			},
			{
				displayName: 'Text',
				name: 'text',
				type: 'string',
				typeOptions: { rows: 3 },
				default: '={{ $json.text }}',
				description: 'Text of the message to classify and route',
			},
			{
				displayName: 'Channel',
				name: 'channel',
				type: 'string',
				default: '={{ $json.channel }}',
				required: true,
				description: 'Channel of the message (email, whatsapp, webchat...): agents work some channels, and each costs them some load',
			},
			{
				displayName: 'Language',
				name: 'language',
				type: 'string',
				default: '',
				placeholder: 'en',
				description: "Language of the message when known (the channel's or the contact's): wins over detection",
			},
			{
				displayName: 'Intents',
				name: 'intents',
				type: 'fixedCollection',
				typeOptions: { multipleValues: true },
				placeholder: 'Add Intent',
				default: {},
				description: 'What messages are about, for the built-in rules and as the choices given to a model; "other" when none matches',
				options: [
					{
						displayName: 'Intent',
						name: 'intent',
						values: [
							{
								displayName: 'Keywords',
								name: 'keywords',
								type: 'string',
								default: '',
								placeholder: 'invoice, refund, charged',
								description: 'Comma-separated words or phrases (whole words, any case, accents ignored)',
							},
							{
								displayName: 'Name',
								name: 'name',
								type: 'string',
								default: '',
								placeholder: 'billing',
								description: 'Name of the intent; also the skill an agent needs, when some agent has it',
							},
							{
								displayName: 'Patterns',
								name: 'patterns',
								type: 'string',
								typeOptions: { rows: 2 },
								default: '',
								placeholder: 'order\\s*#?\\d+',
								description: 'Regular expressions, one per line (case-insensitive)',
							},
							{
								displayName: 'Urgency',
								name: 'urgency',
								type: 'options',
								options: [
									{ name: 'Default', value: '', description: 'As the message says (urgent words make it high)' },
									{ name: 'High', value: 'high', description: 'Messages of this intent are urgent' },
									{ name: 'Low', value: 'low', description: 'Messages of this intent can wait' },
									{ name: 'Normal', value: 'normal', description: 'Normal urgency' },
								],
								default: '',
								description: 'Urgency of a message of this intent when no urgent word says more',
							},
						],
					},
				],
			},
			{
				displayName: 'Options',
				name: 'options',
				type: 'collection',
				placeholder: 'Add Option',
				default: {},
				description: 'Settings of the route steps',
				options: [
					{
						displayName: 'AI Agents',
						name: 'aiAgents',
						type: 'boolean',
						default: true,
						description: 'Whether AI agents of the roster may be chosen (never for a customer who asks for a person)',
					},
					{
						displayName: 'AI Confidence Threshold',
						name: 'aiConfidenceThreshold',
						type: 'number',
						typeOptions: { minValue: 0, maxValue: 1, numberPrecision: 2 },
						default: 0.7,
						description: 'Below this classification confidence an AI agent without a threshold of its own is not chosen',
					},
					{
						displayName: 'Answer From History',
						name: 'answerFromHistory',
						type: 'boolean',
						default: true,
						description: 'Whether a question this person asked and got answered before, on any channel, goes to the Answer output with that answer',
					},
					{
						displayName: 'Answer Max Age (Days)',
						name: 'answerMaxAgeDays',
						type: 'number',
						typeOptions: { minValue: 1 },
						default: 90,
						description: 'Only earlier answers at most this old',
					},
					{
						displayName: 'Known Agent',
						name: 'knownAgent',
						type: 'boolean',
						default: true,
						description: 'Whether the human who last handled this person, on any channel, gets them again when available',
					},
					{
						displayName: 'Known Agent Max Age (Days)',
						name: 'knownAgentMaxAgeDays',
						type: 'number',
						typeOptions: { minValue: 1 },
						default: 30,
						description: 'Only agents who handled the person at most this long ago',
					},
					{
						displayName: 'Max Wait Minutes',
						name: 'maxWaitMinutes',
						type: 'number',
						typeOptions: { minValue: 1 },
						default: 30,
						description: 'An unanswered message older than this raises the priority',
					},
					{
						displayName: 'Min Similarity',
						name: 'minSimilarity',
						type: 'number',
						typeOptions: { minValue: 0, maxValue: 1, numberPrecision: 2 },
						default: 0.6,
						description: 'How alike (0-1) an earlier question must be to answer from history',
					},
					{
						displayName: 'Queue',
						name: 'queue',
						type: 'string',
						default: 'default',
						description: 'Queue for messages nobody available can take; high-priority ones go to "{queue}-priority"',
					},
					{
						displayName: 'Required Skills (JSON)',
						name: 'requiredSkills',
						type: 'json',
						default: '{}',
						description: 'Intent to the skill(s) an agent needs, e.g. {"billing": ["billing", "de"]}',
					},
					{
						displayName: 'VIP Attributes (JSON)',
						name: 'vipAttributes',
						type: 'json',
						default: '{"vip": true}',
						description: 'Contact attributes that make a VIP (raises the priority), e.g. {"plan": ["gold", "platinum"]}',
					},
				],
			},
		],
	};

	methods = { credentialTest: { omnithreadStoreApiTest } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const outputs: INodeExecutionData[][] = ROUTE_TARGET_KINDS.map(() => []);
		const node = this.getNode();
		let omnithread: Omnithread | undefined;
		let chatModel: ChatModelLike | undefined;
		let llm: LlmSettings | undefined;
		let prepared = false;
		for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
			try {
				if (!prepared) {
					// A connected Chat Model sub-node (a LangChain chat model, duck-typed: invoke()) wins over the LLM
					// credential; one without invoke() is refused by the core, naming the Chat Model input.
					const connected = (await this.getInputConnectionData(NodeConnectionTypes.AiLanguageModel, 0)) as unknown;
					if (connected) chatModel = connected as ChatModelLike;
					if (!chatModel && node.credentials?.[LLM_CREDENTIAL]) {
						const data = await this.getCredentials<{ baseUrl: string; apiKey?: string; model: string }>(LLM_CREDENTIAL);
						llm = { baseUrl: String(data.baseUrl ?? '').trim(), apiKey: String(data.apiKey ?? ''), model: String(data.model ?? '') };
					}
					prepared = true;
				}
				omnithread ??= await omnithreadForNode(this);
				const param = (name: string, fallback: unknown = '') => this.getNodeParameter(name, itemIndex, fallback);
				const contactId = String(param('contactId') ?? '');
				const eventId = optionalText(param('eventId'));
				const channel = String(param('channel') ?? '');
				const request: RouteRequest = {
					contactId,
					...(eventId ? { eventId } : {}),
					text: String(param('text') ?? ''),
					channel,
					...(optionalText(param('language')) ? { language: optionalText(param('language')) } : {}),
					rules: rulesFrom(param('intents', {}) as IDataObject),
					...(llm ? { llm } : {}),
					options: routeOptions(this, param('options', {}) as IDataObject, itemIndex),
				};
				const result = await runRoute(omnithread, request, chatModel ? { chatModel } : {});
				const json = { ...result, contactId, channel, ...(eventId ? { messageEventId: eventId } : {}) } as unknown as IDataObject;
				outputs[ROUTE_TARGET_KINDS.indexOf(result.output)].push({ json, pairedItem: { item: itemIndex } });
			} catch (error) {
				if (this.continueOnFail()) {
					// An item that could not be routed waits for a person: the Queue output.
					outputs[ROUTE_TARGET_KINDS.indexOf('queue')].push(errorItem(error, itemIndex));
					continue;
				}
				throw toNodeError(node, error, itemIndex, LABELS);
			}
		}
		return outputs;
	}
}
