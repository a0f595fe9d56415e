import type {
	ICredentialTestFunctions,
	ICredentialsDecrypted,
	IDataObject,
	IHookFunctions,
	INodeCredentialTestResult,
	INodeType,
	INodeTypeDescription,
	IWebhookFunctions,
	IWebhookResponseData,
} from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';
import { createDesk, type Desk, type DeskHttpResponse } from '../../../shared';
import { SEND_CREDENTIALS, SEND_CREDENTIAL_LABELS, omnithreadForNode, omnithreadStoreApiTest, sendSettings } from '../common';

export const DESK_CREDENTIAL = 'omnithreadDeskApi';

/**
 * One Desk per node and settings: sessions live in the store, so a new Desk after a change of settings (or
 * on another worker) knows every signed-in agent; keeping it only saves re-reading the page's files.
 */
const desks = new Map<string, { key: string; desk: Desk }>();

async function deskFor(context: IWebhookFunctions): Promise<Desk> {
	const node = context.getNode();
	const admin = node.credentials?.[DESK_CREDENTIAL] ? await context.getCredentials<IDataObject>(DESK_CREDENTIAL) : undefined;
	const reply = { channels: await sendSettings(context) };
	const settings = {
		title: context.getNodeParameter('title', 'Omnithread Desk') as string,
		slaMinutes: context.getNodeParameter('slaMinutes', 60) as number,
	};
	const key = JSON.stringify([settings, reply, admin]);
	const known = desks.get(node.id);
	if (known?.key === key) return known.desk;
	const desk = createDesk({
		omnithread: () => omnithreadForNode(context),
		reply,
		...settings,
		...(admin?.adminAgentId && admin.adminPassword ? { admin: { agentId: String(admin.adminAgentId), password: String(admin.adminPassword) } } : {}),
	});
	desks.set(node.id, { key, desk });
	return desk;
}

/** What is wrong with an admin credential, or undefined; thrown when asked to. */
function adminProblem(admin: IDataObject, raise = false): string | undefined {
	const id = String(admin.adminAgentId ?? '');
	const password = String(admin.adminPassword ?? '');
	const problem = !/^[A-Za-z0-9._:@-]{1,128}$/.test(id)
		? 'Admin Agent ID must be 1-128 letters, digits, ".", "_", ":", "@" or "-"'
		: password.length < 10
			? 'Admin Password needs at least 10 characters'
			: undefined;
	if (problem && raise) throw new Error(`Omnithread Desk Admin credential: ${problem}`);
	return problem;
}

/** Credential test (`testedBy`): the admin's id and password are usable (the desk stores only the password's hash). */
export async function omnithreadDeskApiTest(this: ICredentialTestFunctions, credential: ICredentialsDecrypted): Promise<INodeCredentialTestResult> {
	const problem = adminProblem(credential.data ?? {});
	return problem ? { status: 'Error', message: problem } : { status: 'OK', message: `Admin ${String(credential.data?.adminAgentId)} can sign in to the desk` };
}

function write(context: IWebhookFunctions, answer: DeskHttpResponse): void {
	const res = context.getResponseObject();
	res.status(answer.status);
	for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
	res.end(answer.body);
}

export class OmnithreadDesk implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Omnithread Desk',
		name: 'omnithreadDesk',
		icon: { light: 'file:desk.svg', dark: 'file:desk.dark.svg' },
		group: ['trigger'],
		version: 1,
		subtitle: '={{"/" + $parameter["path"]}}',
		description:
			'Hosts the Omnithread Desk on this webhook: the page where human agents see one person across every channel, answer, take handoffs and read the continuity metrics. Starts no executions.',
		defaults: { name: 'Omnithread Desk' },
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{ name: 'omnithreadStoreApi', displayName: 'Store (Empty: Embedded SQLite)', required: false, testedBy: 'omnithreadStoreApiTest' },
			{ name: 'omnithreadDeskApi', displayName: 'Desk Admin', required: false, testedBy: 'omnithreadDeskApiTest' },
			...[...new Set(Object.values(SEND_CREDENTIALS))].map((name) => ({ name, displayName: SEND_CREDENTIAL_LABELS[name], required: false })),
		],
		webhooks: [
			{ name: 'default', httpMethod: 'GET', responseMode: 'onReceived', path: '={{$parameter["path"]}}', isFullPath: true },
			{ name: 'default', httpMethod: 'POST', responseMode: 'onReceived', path: '={{$parameter["path"]}}', isFullPath: true },
		],
		properties: [
			{
				displayName:
					'Publish the workflow, then open the Production URL above in a browser. Sign in with the Omnithread Desk Admin credential; give other roster agents access from the desk\'s Agents panel.',
				name: 'deskNotice',
				type: 'notice',
				default: '',
			},
			{
				displayName: 'Path',
				name: 'path',
				type: 'string',
				default: 'desk',
				required: true,
				placeholder: 'desk',
				description: 'The desk is served at <n8n>/webhook/&lt;path&gt;; its API is the same URL with ?op=',
			},
			{
				displayName: 'Title',
				name: 'title',
				type: 'string',
				default: 'Omnithread Desk',
				description: 'Shown in the browser tab and the desk header',
			},
			{
				displayName: 'SLA (Minutes)',
				name: 'slaMinutes',
				type: 'number',
				default: 60,
				typeOptions: { minValue: 1 },
				description: 'How long a customer may wait for an answer before the inbox shows the SLA as breached, when no handoff set one',
			},
		],
	};

	methods = { credentialTest: { omnithreadStoreApiTest, omnithreadDeskApiTest } };

	/**
	 * Nothing is registered with a third party: on activation the desk only checks that its store opens and
	 * that the admin credential can sign in, so a wrong setting fails the activation instead of the first page view.
	 */
	webhookMethods = {
		default: {
			async checkExists(this: IHookFunctions): Promise<boolean> {
				return false;
			},
			async create(this: IHookFunctions): Promise<boolean> {
				const omnithread = await omnithreadForNode(this);
				const admin = this.getNode().credentials?.[DESK_CREDENTIAL] ? await this.getCredentials<IDataObject>(DESK_CREDENTIAL) : undefined;
				if (admin) adminProblem(admin, true);
				await omnithread.deskData().listAccess();
				return true;
			},
			async delete(this: IHookFunctions): Promise<boolean> {
				return true;
			},
		},
	};

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		const request = this.getRequestObject();
		let body: Buffer | undefined;
		if (request.method === 'POST') {
			if (!Buffer.isBuffer(request.rawBody) && typeof request.readRawBody === 'function') await request.readRawBody();
			body = Buffer.isBuffer(request.rawBody) ? request.rawBody : Buffer.from(request.body === undefined ? '' : JSON.stringify(request.body));
		}
		const host = request.headers['x-forwarded-host'] ?? request.headers.host ?? 'localhost';
		const proto = String(request.headers['x-forwarded-proto'] ?? request.protocol ?? 'http').split(',')[0].trim();
		let answer: DeskHttpResponse;
		try {
			const desk = await deskFor(this);
			answer = await desk.handle({ method: request.method, url: `${proto}://${String(host)}${request.originalUrl}`, headers: request.headers, body, ip: request.ip });
		} catch (error) {
			answer = { status: 500, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ error: (error as Error).message, code: 'INTERNAL' }) };
		}
		write(this, answer);
		// The desk answered itself: no execution is started for a page view or an API call.
		return { noWebhookResponse: true };
	}
}
