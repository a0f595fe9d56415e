import type {
	IDisplayOptions,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
	INodeType,
	INodeTypeDescription,
} from 'n8n-workflow';
import { NodeConnectionTypes, NodeOperationError } from 'n8n-workflow';
import {
	HANDLE_KINDS,
	SCOPED_HANDLE_KINDS,
	TRUST_LEVELS,
	runIdentityOperation,
	type HandleInput,
	type IdentityOperation,
	type Omnithread,
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

const FROM_INPUT = '={{ $json.contactId ?? $json.contact?.id }}';

const contactId = (show: IDisplayOptions['show'], fromInput: boolean, description: string): INodeProperties => ({
	displayName: 'Contact ID',
	name: 'contactId',
	type: 'string',
	default: fromInput ? FROM_INPUT : '',
	required: fromInput,
	description,
	displayOptions: { show },
});

const actor: INodeProperties = {
	displayName: 'Actor',
	name: 'actor',
	type: 'string',
	default: '',
	placeholder: 'agent:maria',
	description: 'Who does this, as recorded in the merge log (an agent, an admin, a workflow). Empty = omnithread.',
	displayOptions: { show: { operation: ['merge', 'unmerge', 'accept'] } },
};

const trustOptions = TRUST_LEVELS.map((trust) => ({
	name: trust[0].toUpperCase() + trust.slice(1),
	value: trust,
	description: {
		asserted: 'Typed by the customer or an agent',
		channel: 'Vouched for by the channel it came from',
		verified: 'Verified (signed in, confirmed by a code)',
	}[trust],
}));

const HANDLE_KIND_NAMES: Record<string, string> = {
	account: 'Account ID',
	email: 'Email',
	external_id: 'External System ID',
	instagram_igsid: 'Instagram-Scoped User ID',
	messenger_psid: 'Messenger Page-Scoped ID',
	phone: 'Phone',
	telegram_user: 'Telegram User ID',
	webchat_visitor: 'Web Chat Visitor ID',
	whatsapp_bsuid: 'WhatsApp Business-Scoped User ID',
	whatsapp_id: 'WhatsApp ID (wa_id)',
	x_user: 'X User ID',
};

const handleKindOptions = HANDLE_KINDS.map((kind) => ({
	name: HANDLE_KIND_NAMES[kind] ?? kind,
	value: kind,
	description: (SCOPED_HANDLE_KINDS as readonly string[]).includes(kind)
		? `${kind}: a channel ID, meaningful within its scope (the bot, page, business or site)`
		: `${kind}: a global identifier`,
})).sort((a, b) => a.name.localeCompare(b.name));

/** Error descriptions name the parameter behind the field the core reports. */
const LABELS: Record<string, FieldLabels> = {
	resolve: { '*': 'Message' },
	resolveHandles: { handles: 'Email, Phone, Account ID or Handles (JSON)', name: 'Name' },
	get: { contactId: 'Contact ID', handle: 'Handle Value', kind: 'Handle Kind', value: 'Handle Value', scope: 'Handle Scope' },
	merge: { contactId: 'Contact ID', otherContactId: 'Other Contact ID' },
	unmerge: { contactId: 'Contact ID', mergeId: 'Merge ID' },
	getAll: { contactId: 'Contact ID', limit: 'Limit' },
	accept: { suggestionId: 'Suggestion ID' },
	dismiss: { suggestionId: 'Suggestion ID' },
	export: { contactId: 'Contact ID' },
	erase: { contactId: 'Contact ID' },
};

/** Maps this item's parameters to one shared identity operation. */
function identityOperation(context: IExecuteFunctions, itemIndex: number): IdentityOperation {
	const node = context.getNode();
	const param = (name: string, fallback: unknown = '') => context.getNodeParameter(name, itemIndex, fallback);
	const text = (name: string) => optionalText(param(name));
	const operation = param('operation') as string;
	switch (operation) {
		case 'resolve':
			return { operation: 'resolve', message: jsonParameter(node, param('message'), 'Message', itemIndex) };
		case 'resolveHandles': {
			const trust = param('trust', 'asserted') as HandleInput['trust'];
			const handles: HandleInput[] = [];
			const email = text('email');
			const phone = text('phone');
			const accountId = text('accountId');
			if (email) handles.push({ kind: 'email', value: email, trust });
			if (phone) handles.push({ kind: 'phone', value: phone, trust });
			if (accountId) handles.push({ kind: 'account', value: accountId, trust });
			const more = jsonParameter(node, param('handles', '[]'), 'Handles (JSON)', itemIndex) ?? [];
			return {
				operation: 'resolveHandles',
				handles: Array.isArray(more) ? [...handles, ...(more as HandleInput[])] : (more as HandleInput[]),
				name: text('name'),
				dryRun: param('dryRun', false) as boolean,
			};
		}
		case 'get':
			return param('lookupBy', 'contactId') === 'handle'
				? {
						operation: 'get',
						handle: {
							kind: param('handleKind', 'email') as HandleInput['kind'],
							value: param('handleValue') as string,
							scope: text('handleScope'),
						},
					}
				: { operation: 'get', contactId: param('contactId') as string };
		case 'merge':
			return {
				operation: 'merge',
				contactId: param('contactId') as string,
				otherContactId: param('otherContactId') as string,
				reason: text('reason'),
				actor: text('actor'),
			};
		case 'unmerge':
			return param('unmergeBy', 'contactId') === 'mergeId'
				? { operation: 'unmerge', mergeId: param('mergeId') as string, actor: text('actor') }
				: { operation: 'unmerge', contactId: param('contactId') as string, actor: text('actor') };
		case 'getAll':
			return {
				operation: 'suggestions',
				contactId: text('contactId'),
				status: param('status', 'open') as 'open' | 'accepted' | 'dismissed',
				limit: param('limit', 50) as number,
			};
		case 'accept':
			return { operation: 'acceptSuggestion', suggestionId: param('suggestionId') as string, actor: text('actor') };
		case 'dismiss':
			return { operation: 'dismissSuggestion', suggestionId: param('suggestionId') as string };
		case 'export':
		case 'erase':
			return { operation, contactId: param('contactId') as string };
		default:
			throw new NodeOperationError(node, `Unknown operation "${operation}"`, { itemIndex });
	}
}

export class OmnithreadIdentityResolve implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Omnithread Identity Resolve',
		name: 'omnithreadIdentityResolve',
		icon: { light: 'file:identity.svg', dark: 'file:identity.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
		description:
			'Recognises a customer across channels: records a message and says who sent it and how they were recognised, finds contacts by email, phone or channel ID, and merges, unmerges, exports or erases them',
		defaults: { name: 'Omnithread Identity Resolve' },
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
					{ name: 'Contact', value: 'contact', description: 'A person, with every identity they use on any channel' },
					{ name: 'Merge Suggestion', value: 'mergeSuggestion', description: 'Two contacts that may be one person, waiting for a decision' },
				],
				default: 'contact',
				description: 'What to work on',
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['contact'] } },
				options: [
					{
						name: 'Erase',
						value: 'erase',
						description: 'Delete a contact and everything about them, scrub their values from other rows and purge the files (right to be forgotten)',
						action: 'Erase a contact',
					},
					{
						name: 'Export',
						value: 'export',
						description: 'Everything stored about a contact, as JSON (data subject access request)',
						action: 'Export a contact',
					},
					{ name: 'Get', value: 'get', description: 'Get a contact by ID or by a handle', action: 'Get a contact' },
					{
						name: 'Merge',
						value: 'merge',
						description: 'Merge two contacts that are one person; the older one survives',
						action: 'Merge two contacts',
					},
					{
						name: 'Resolve and Record',
						value: 'resolve',
						description:
							"Record a message on its sender's timeline and return the sender and how they were recognised. Idempotent: a message recorded before is not recorded again.",
						action: 'Resolve and record a message',
					},
					{
						name: 'Resolve Handles',
						value: 'resolveHandles',
						description: 'Find, link or create the contact for an email, phone, account ID or channel IDs',
						action: 'Resolve a contact from handles',
					},
					{ name: 'Unmerge', value: 'unmerge', description: 'Undo a merge exactly', action: 'Unmerge a contact' },
				],
				default: 'resolve',
				description: 'What to do with contacts',
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['mergeSuggestion'] } },
				options: [
					{
						name: 'Accept',
						value: 'accept',
						description: 'Merge the two contacts of a suggestion',
						action: 'Accept a merge suggestion',
					},
					{
						name: 'Dismiss',
						value: 'dismiss',
						description: 'Keep the two contacts apart',
						action: 'Dismiss a merge suggestion',
					},
					{
						name: 'Get Many',
						value: 'getAll',
						description: 'List merge suggestions, one item each',
						action: 'Get many merge suggestions',
					},
				],
				default: 'getAll',
				description: 'What to do with merge suggestions',
			},

			// Resolve and Record
			{
				displayName: 'Message',
				name: 'message',
				type: 'json',
				default: '={{ $json.message }}',
				required: true,
				description:
					'The message to record: the "message" of an Omnithread Trigger item, or any object with channel, providerMessageId, from.handles and text',
				displayOptions: { show: { resource: ['contact'], operation: ['resolve'] } },
			},

			// Resolve Handles
			{
				displayName: 'Email',
				name: 'email',
				type: 'string',
				placeholder: 'name@email.com',
				default: '',
				description: 'Email address of the person',
				displayOptions: { show: { resource: ['contact'], operation: ['resolveHandles'] } },
			},
			{
				displayName: 'Phone',
				name: 'phone',
				type: 'string',
				default: '',
				placeholder: '+447911123456',
				description: 'Phone number, best in international form (E.164)',
				displayOptions: { show: { resource: ['contact'], operation: ['resolveHandles'] } },
			},
			{
				displayName: 'Account ID',
				name: 'accountId',
				type: 'string',
				default: '',
				description: "The person's ID in your own system (unique: two different account IDs never merge)",
				displayOptions: { show: { resource: ['contact'], operation: ['resolveHandles'] } },
			},
			{
				displayName: 'Trust',
				name: 'trust',
				type: 'options',
				options: trustOptions,
				default: 'asserted',
				description:
					"How much the email, phone and account ID above are trusted. Below the store's Auto-Merge Trust (default Channel), a value that matches an existing contact does not link to it: a new contact and a merge suggestion are made instead.",
				displayOptions: { show: { resource: ['contact'], operation: ['resolveHandles'] } },
			},
			{
				displayName: 'Handles (JSON)',
				name: 'handles',
				type: 'json',
				default: '[]',
				description:
					'More handles as a JSON array, e.g. [{"kind": "telegram_user", "scope": "my_bot", "value": "12345", "trust": "channel"}]. Channel IDs need a scope (the bot, page, business or site).',
				displayOptions: { show: { resource: ['contact'], operation: ['resolveHandles'] } },
			},
			{
				displayName: 'Name',
				name: 'name',
				type: 'string',
				default: '',
				description: 'Name of the person, kept when a new contact is created',
				displayOptions: { show: { resource: ['contact'], operation: ['resolveHandles'] } },
			},
			{
				displayName: 'Dry Run',
				name: 'dryRun',
				type: 'boolean',
				default: false,
				description: 'Whether to only explain what would happen, without writing anything',
				displayOptions: { show: { resource: ['contact'], operation: ['resolveHandles'] } },
			},

			// Get
			{
				displayName: 'Look Up By',
				name: 'lookupBy',
				type: 'options',
				options: [
					{ name: 'Contact ID', value: 'contactId', description: 'The ID of the contact (a merged-away ID finds the survivor)' },
					{ name: 'Handle', value: 'handle', description: 'An email, phone, account ID or channel ID the person uses' },
				],
				default: 'contactId',
				description: 'How to find the contact',
				displayOptions: { show: { resource: ['contact'], operation: ['get'] } },
			},
			contactId({ resource: ['contact'], operation: ['get'], lookupBy: ['contactId'] }, true, 'ID of the contact to get'),
			{
				displayName: 'Handle Kind',
				name: 'handleKind',
				type: 'options',
				options: handleKindOptions,
				default: 'email',
				description: 'What kind of identifier to look up',
				displayOptions: { show: { resource: ['contact'], operation: ['get'], lookupBy: ['handle'] } },
			},
			{
				displayName: 'Handle Value',
				name: 'handleValue',
				type: 'string',
				default: '',
				required: true,
				description: 'The email, phone number, account ID or channel ID',
				displayOptions: { show: { resource: ['contact'], operation: ['get'], lookupBy: ['handle'] } },
			},
			{
				displayName: 'Handle Scope',
				name: 'handleScope',
				type: 'string',
				default: '',
				required: true,
				description: 'The bot, page, business account or site the channel ID belongs to',
				displayOptions: {
					show: { resource: ['contact'], operation: ['get'], lookupBy: ['handle'], handleKind: [...SCOPED_HANDLE_KINDS] },
				},
			},

			// Merge, Unmerge, Export, Erase
			contactId(
				{ resource: ['contact'], operation: ['merge'] },
				true,
				'ID of one of the two contacts (the older of the two survives)',
			),
			{
				displayName: 'Other Contact ID',
				name: 'otherContactId',
				type: 'string',
				default: '',
				required: true,
				description: 'ID of the other contact',
				displayOptions: { show: { resource: ['contact'], operation: ['merge'] } },
			},
			{
				displayName: 'Reason',
				name: 'reason',
				type: 'string',
				default: '',
				description: 'Why they are one person, kept in the merge log',
				displayOptions: { show: { resource: ['contact'], operation: ['merge'] } },
			},
			{
				displayName: 'Unmerge By',
				name: 'unmergeBy',
				type: 'options',
				options: [
					{ name: 'Merge ID', value: 'mergeId', description: 'The ID of the merge, from the merge log' },
					{ name: 'Merged Contact ID', value: 'contactId', description: 'The ID of the contact that was merged away' },
				],
				default: 'contactId',
				description: 'How to name the merge to undo',
				displayOptions: { show: { resource: ['contact'], operation: ['unmerge'] } },
			},
			contactId(
				{ resource: ['contact'], operation: ['unmerge'], unmergeBy: ['contactId'] },
				false,
				'ID of the contact that was merged away: it gets back its identities, conversations and events',
			),
			{
				displayName: 'Merge ID',
				name: 'mergeId',
				type: 'string',
				default: '',
				required: true,
				description: 'ID of the merge to undo',
				displayOptions: { show: { resource: ['contact'], operation: ['unmerge'], unmergeBy: ['mergeId'] } },
			},
			contactId({ resource: ['contact'], operation: ['export'] }, true, 'ID of the contact to export'),
			contactId(
				{ resource: ['contact'], operation: ['erase'] },
				false,
				'ID of the contact to erase, with everyone merged into it. This cannot be undone.',
			),

			// Merge suggestions
			contactId(
				{ resource: ['mergeSuggestion'], operation: ['getAll'] },
				false,
				'Only suggestions about this contact. Empty = all.',
			),
			{
				displayName: 'Status',
				name: 'status',
				type: 'options',
				options: [
					{ name: 'Accepted', value: 'accepted', description: 'Suggestions that were accepted' },
					{ name: 'Dismissed', value: 'dismissed', description: 'Suggestions that were dismissed' },
					{ name: 'Open', value: 'open', description: 'Suggestions waiting for a decision' },
				],
				default: 'open',
				description: 'Which suggestions to list',
				displayOptions: { show: { resource: ['mergeSuggestion'], operation: ['getAll'] } },
			},
			{
				displayName: 'Limit',
				name: 'limit',
				type: 'number',
				typeOptions: { minValue: 1, maxValue: 1000 },
				default: 50,
				description: 'Max number of results to return',
				displayOptions: { show: { resource: ['mergeSuggestion'], operation: ['getAll'] } },
			},
			{
				displayName: 'Suggestion ID',
				name: 'suggestionId',
				type: 'string',
				default: '',
				required: true,
				description: 'ID of the merge suggestion',
				displayOptions: { show: { resource: ['mergeSuggestion'], operation: ['accept', 'dismiss'] } },
			},
			actor,
		],
	};

	methods = { credentialTest: { omnithreadStoreApiTest } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const output: INodeExecutionData[] = [];
		let omnithread: Omnithread | undefined;
		for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
			const operation = this.getNodeParameter('operation', itemIndex) as string;
			try {
				omnithread ??= await omnithreadForNode(this);
				const result = await runIdentityOperation(omnithread, identityOperation(this, itemIndex));
				output.push(...resultItems(result, itemIndex));
			} catch (error) {
				if (this.continueOnFail()) {
					output.push(errorItem(error, itemIndex));
					continue;
				}
				throw toNodeError(this.getNode(), error, itemIndex, LABELS[operation]);
			}
		}
		return [output];
	}
}
