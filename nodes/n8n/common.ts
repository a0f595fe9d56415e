/**
 * What the three n8n nodes share, and nothing else: the Omnithread a node works on (from its optional
 * Omnithread Store credential; without one, the embedded SQLite store in n8n's user folder), the
 * credential test, and turning an OmnithreadError into the node error n8n shows.
 */
import type {
	ICredentialDataDecryptedObject,
	ICredentialsDecrypted,
	ICredentialTestFunctions,
	IDataObject,
	INode,
	INodeCredentialTestResult,
	INodeExecutionData,
	JsonObject,
} from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';
import {
	CHANNELS,
	acquireStore,
	createOmnithread,
	isOmnithreadError,
	omnithreadFor,
	resolveSettings,
	type NodeStoreSettings,
	type Omnithread,
} from '../../shared';

export const STORE_CREDENTIAL = 'omnithreadStoreApi';

/** The part of n8n's execute and webhook contexts that a store lookup needs. */
interface NodeContext {
	getNode(): INode;
	getCredentials<T extends object = ICredentialDataDecryptedObject>(type: string, itemIndex?: number): Promise<T>;
}

/**
 * The Omnithread for this node: one open store per configuration, shared by every node in the process.
 * Throws the core's errors (e.g. STORE_UNAVAILABLE) as they are: the caller turns them into its answer.
 */
export async function omnithreadForNode(context: NodeContext): Promise<Omnithread> {
	// The credential is optional: n8n refuses getCredentials() for an optional credential that is not set.
	const fields = context.getNode().credentials?.[STORE_CREDENTIAL]
		? await context.getCredentials<NodeStoreSettings>(STORE_CREDENTIAL)
		: undefined;
	return await omnithreadFor(resolveSettings(fields, 'n8n'));
}

/** Credential test (`testedBy` on every node): opens the store and reads from it. */
export async function omnithreadStoreApiTest(
	this: ICredentialTestFunctions,
	credential: ICredentialsDecrypted,
): Promise<INodeCredentialTestResult> {
	try {
		const settings = resolveSettings(credential.data as NodeStoreSettings | undefined, 'n8n');
		const { store, release } = await acquireStore(settings.store);
		try {
			const omnithread = createOmnithread({
				store,
				workspace: settings.workspace,
				rules: settings.rules,
				idleTimeoutMs: settings.idleTimeoutMs,
			});
			await omnithread.suggestions({ limit: 1 });
		} finally {
			await release();
		}
		const where = settings.store.type === 'sqlite' ? `SQLite store ${settings.store.path}` : 'PostgreSQL store';
		return { status: 'OK', message: `Connected to the ${where}, workspace "${settings.workspace}"` };
	} catch (error) {
		return { status: 'Error', message: error instanceof Error ? error.message : String(error) };
	}
}

/** Parameter display names by the field names the shared operations report, for error descriptions. */
export type FieldLabels = Record<string, string>;

function fieldHint(field: string | undefined, labels: FieldLabels): string {
	if (!field) return '';
	const root = field.split('.')[0] ?? field;
	const label = labels[field] ?? labels[root];
	return label ? ` Check the "${label}" parameter (field "${field}").` : ` Check the field "${field}".`;
}

/**
 * OmnithreadError -> NodeOperationError (invalid input, not found, conflict: the item or the parameters
 * need fixing) or NodeApiError (the store is unavailable: retrying may help). Other errors are wrapped.
 */
export function toNodeError(
	node: INode,
	error: unknown,
	itemIndex?: number,
	labels: FieldLabels = {},
): NodeOperationError | NodeApiError {
	if (error instanceof NodeOperationError || error instanceof NodeApiError) return error;
	if (isOmnithreadError(error, 'STORE_UNAVAILABLE')) {
		return new NodeApiError(node, { message: error.message, code: error.code } as JsonObject, {
			message: 'The Omnithread store is unavailable',
			description: `${error.message}. Check the Omnithread Store credential (or, without one, the embedded SQLite file in n8n's user folder); "Retry On Fail" in the node settings retries automatically.`,
			httpCode: '503',
			itemIndex,
		});
	}
	if (isOmnithreadError(error)) {
		const description: Record<string, string> = {
			INVALID_INPUT: `The input is not valid (${error.code}).${fieldHint(error.field, labels)}`,
			NOT_FOUND: `Nothing with this ID exists in the workspace (${error.code}): check the ID, and the workspace of the Omnithread Store credential.${fieldHint(error.field, labels)}`,
			CONFLICT: `The store refused the change (${error.code}).${fieldHint(error.field, labels)}`,
			STORE_CONFIG: `The Omnithread Store credential is not valid (${error.code}).${fieldHint(error.field, labels)}`,
		};
		return new NodeOperationError(node, error, { itemIndex, description: description[error.code] });
	}
	return new NodeOperationError(node, error instanceof Error ? error : String(error), { itemIndex });
}

/** The item Continue On Fail puts out instead of stopping the workflow. */
export function errorItem(error: unknown, itemIndex: number): INodeExecutionData {
	const json: IDataObject = { error: error instanceof Error ? error.message : String(error) };
	if (isOmnithreadError(error)) {
		json.code = error.code;
		if (error.field) json.field = error.field;
	}
	return { json, pairedItem: { item: itemIndex } };
}

/** One item per element of an array result, else one item; all paired with the input item. */
export function resultItems(result: unknown, itemIndex: number): INodeExecutionData[] {
	const list: unknown[] = Array.isArray(result) ? result : [result];
	return list.map((json) => ({ json: (json ?? {}) as IDataObject, pairedItem: { item: itemIndex } }));
}

/** A JSON parameter: an object from an expression, or JSON text typed into the field. */
export function jsonParameter(node: INode, value: unknown, label: string, itemIndex: number): unknown {
	if (typeof value !== 'string') return value;
	if (!value.trim()) return undefined;
	try {
		return JSON.parse(value) as unknown;
	} catch (error) {
		throw new NodeOperationError(node, `The "${label}" parameter is not valid JSON: ${(error as Error).message}`, {
			itemIndex,
			description: `Give "${label}" as JSON, or as an expression that returns an object.`,
		});
	}
}

/** Empty text parameters mean "not given". */
export const optionalText = (value: unknown): string | undefined =>
	typeof value === 'string' && value.trim() ? value.trim() : undefined;

/** Which credential holds the send settings of which channel. */
export const SEND_CREDENTIALS: Record<string, string> = {
	whatsapp: 'omnithreadWhatsAppApi',
	messenger: 'omnithreadMetaPageApi',
	instagram: 'omnithreadMetaPageApi',
	telegram: 'omnithreadTelegramApi',
	sms: 'omnithreadTwilioApi',
	x: 'omnithreadXApi',
	email: 'omnithreadSmtpApi',
};

/** How the node panel labels each send credential (without a label, n8n calls every one of them "Credential"). */
export const SEND_CREDENTIAL_LABELS: Record<string, string> = {
	omnithreadWhatsAppApi: 'WhatsApp Sender',
	omnithreadMetaPageApi: 'Messenger / Instagram Page',
	omnithreadTelegramApi: 'Telegram Bot',
	omnithreadTwilioApi: 'Twilio (SMS and Voice)',
	omnithreadXApi: 'X Account',
	omnithreadSmtpApi: 'Email Sender (SMTP)',
};

/**
 * Channels that need no credential: a web chat answer is only recorded on the timeline, where the
 * visitor's widget fetches it from the trigger's feed, so the Reply node can always answer there.
 */
export const CREDENTIAL_FREE_CHANNELS = ['webchat'];

/** The send settings of every channel whose credential is set on the node. */
export async function sendSettings(context: NodeContext, itemIndex?: number): Promise<Record<string, unknown>> {
	const set = context.getNode().credentials ?? {};
	const channels: Record<string, unknown> = Object.fromEntries(CREDENTIAL_FREE_CHANNELS.map((channel) => [channel, {}]));
	const read: Record<string, IDataObject> = {};
	for (const [channel, credential] of Object.entries(SEND_CREDENTIALS)) {
		// Optional credentials: n8n refuses getCredentials() for one that is not set.
		if (!set[credential]) continue;
		read[credential] ??= await context.getCredentials<IDataObject>(credential, itemIndex);
		const fields = (CHANNELS[channel]?.sendFields ?? []).map((f) => f.name);
		// Only the channel's send fields; an emptied optional field takes the channel's default.
		channels[channel] = Object.fromEntries(
			fields.filter((name) => read[credential][name] !== undefined && read[credential][name] !== '').map((name) => [name, read[credential][name]]),
		);
	}
	return channels;
}

