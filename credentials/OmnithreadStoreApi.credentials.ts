import type { ICredentialType, INodeProperties, Icon } from 'n8n-workflow';
import { BUILT_IN_RULES, BUILT_IN_RULE_IDS } from '../shared/identity/built-in';

/**
 * Where Omnithread keeps its identities and timelines. Optional on every Omnithread node: without it
 * the nodes use an embedded SQLite file in n8n's user folder (~/.n8n/omnithread/omnithread.db).
 * Field names are those of the shared store settings (shared/settings.ts, NodeStoreSettingsSchema),
 * so the credential data goes to the core unchanged. Tested by the nodes (`testedBy`): the test opens
 * the store and reads from it.
 */
export class OmnithreadStoreApi implements ICredentialType {
	name = 'omnithreadStoreApi';

	displayName = 'Omnithread Store API';

	icon: Icon = { light: 'file:store.svg', dark: 'file:store.dark.svg' };

	documentationUrl = 'https://github.com/omnithread/n8n-nodes-omnithread#store-settings-n8n-credential-omnithread-store-api-node-red-omnithread-store';

	properties: INodeProperties[] = [
		{
			displayName: 'Store Type',
			name: 'storeType',
			type: 'options',
			options: [
				{
					name: 'PostgreSQL',
					value: 'postgres',
					description: 'A PostgreSQL database: for queue mode with several workers, or several n8n instances',
				},
				{
					name: 'SQLite',
					value: 'sqlite',
					description: 'A file on this machine: zero setup, safe for several processes on one host',
				},
			],
			default: 'sqlite',
			description: 'Where identities, timelines and conversations are stored',
		},
		{
			displayName: 'SQLite File',
			name: 'sqlitePath',
			type: 'string',
			default: '',
			placeholder: '/home/node/.n8n/omnithread/omnithread.db',
			description:
				'Path of the SQLite database file (created if missing). Empty = omnithread/omnithread.db in the n8n user folder.',
			displayOptions: { show: { storeType: ['sqlite'] } },
		},
		{
			displayName: 'Durability',
			name: 'sqliteSynchronous',
			type: 'options',
			options: [
				{
					name: 'Commit in the Log (Safe From a Crash)',
					value: 'normal',
					description: 'A message is acknowledged once its commit is in the write-ahead log: it survives a crash of n8n; a power cut or OS crash may lose the last commits',
				},
				{
					name: 'Fsync Every Commit (Safe From a Power Cut)',
					value: 'full',
					description: 'Each commit is synced to disk before the acknowledgement, at the cost of one disk sync per commit',
				},
			],
			default: 'normal',
			description: 'When a message counts as stored (SQLite synchronous = NORMAL or FULL)',
			displayOptions: { show: { storeType: ['sqlite'] } },
		},
		{
			displayName: 'Connection URL',
			name: 'postgresUrl',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			placeholder: 'postgres://user:password@host:5432/database',
			description: 'A PostgreSQL connection URL. When given, the host, port, database, user and password fields below are ignored.',
			displayOptions: { show: { storeType: ['postgres'] } },
		},
		{
			displayName: 'Host',
			name: 'host',
			type: 'string',
			default: '',
			placeholder: 'localhost',
			description: 'PostgreSQL server host (used when no connection URL is given)',
			displayOptions: { show: { storeType: ['postgres'] } },
		},
		{
			displayName: 'Port',
			name: 'port',
			type: 'number',
			default: 5432,
			description: 'PostgreSQL server port',
			displayOptions: { show: { storeType: ['postgres'] } },
		},
		{
			displayName: 'Database',
			name: 'database',
			type: 'string',
			default: '',
			description: 'Name of the database; Omnithread creates its tables in it on first use',
			displayOptions: { show: { storeType: ['postgres'] } },
		},
		{
			displayName: 'User',
			name: 'user',
			type: 'string',
			default: '',
			description: 'PostgreSQL user name',
			displayOptions: { show: { storeType: ['postgres'] } },
		},
		{
			displayName: 'Password',
			name: 'password',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			description: 'PostgreSQL password',
			displayOptions: { show: { storeType: ['postgres'] } },
		},
		{
			displayName: 'SSL',
			name: 'ssl',
			type: 'boolean',
			default: false,
			description: 'Whether to connect with TLS and verify the server certificate',
			displayOptions: { show: { storeType: ['postgres'] } },
		},
		{
			displayName: 'Pool Size',
			name: 'poolSize',
			type: 'number',
			typeOptions: { minValue: 1, maxValue: 200 },
			default: 10,
			description: 'Maximum number of connections this n8n process opens to the database',
			displayOptions: { show: { storeType: ['postgres'] } },
		},
		{
			displayName: 'Purge After Erase',
			name: 'erasePurge',
			type: 'options',
			options: [
				{
					name: 'VACUUM (Default)',
					value: 'vacuum',
					description: 'Vacuum the touched tables: the erased rows are removed, their space is reused by later writes; nothing is blocked',
				},
				{
					name: 'VACUUM FULL',
					value: 'full',
					description: 'Rewrite the touched tables: the erased bytes leave the data files; each table is locked while it is rewritten',
				},
			],
			default: 'vacuum',
			description: 'What an erase does so that the deleted rows also leave the database files (see the README on erasure)',
			displayOptions: { show: { storeType: ['postgres'] } },
		},
		{
			displayName: 'Prepared Statements',
			name: 'preparedStatements',
			type: 'boolean',
			default: true,
			description:
				'Whether to prepare each statement once per connection, so that PostgreSQL plans it once. Turn off behind a pooler that does not keep prepared statements (PgBouncer in transaction mode before 1.21, or without max_prepared_statements).',
			displayOptions: { show: { storeType: ['postgres'] } },
		},
		{
			displayName: 'Workspace',
			name: 'workspace',
			type: 'string',
			default: 'default',
			description:
				'All data is kept per workspace: one store can serve several brands or teams. 1-64 letters, digits, ".", "_" or "-".',
		},
		{
			displayName: 'Default Country',
			name: 'defaultCountry',
			type: 'string',
			default: '',
			placeholder: 'GB',
			description:
				'Two-letter country code used to read phone numbers written without a country prefix (e.g. 07911 123456). Empty = such numbers are skipped.',
		},
		{
			displayName: 'Auto-Merge Trust',
			name: 'autoMergeTrust',
			type: 'options',
			options: [
				{
					name: 'Asserted',
					value: 'asserted',
					description: 'Merge even on what a customer typed: most continuity, most risk',
				},
				{
					name: 'Channel',
					value: 'channel',
					description: 'Merge on what a channel vouches for (e.g. a WhatsApp phone number) or better',
				},
				{
					name: 'Verified',
					value: 'verified',
					description: 'Merge only on signed identities; everything else becomes a merge suggestion',
				},
			],
			default: 'channel',
			description:
				'The least trust a shared email, phone or account needs for two contacts to be merged automatically. Below it, Omnithread records a merge suggestion instead.',
		},
		{
			displayName: 'Shared Mailboxes',
			name: 'sharedMailboxes',
			type: 'string',
			typeOptions: { rows: 2 },
			default: '',
			placeholder: 'frontdesk@hotel.example, orders@client.example',
			description:
				"Comma- or newline-separated addresses of your customers' that several people use: kept on the contact, marked shared, they never link two people (role addresses such as info@ and support@ are built in)",
		},
		{
			displayName: 'Own Addresses',
			name: 'ownAddresses',
			type: 'string',
			typeOptions: { rows: 2 },
			default: '',
			placeholder: 'support@acme.io, acme.io',
			description:
				"Your support mailboxes and domains, comma- or newline-separated. Mail from them is yours (an agent's answer): recorded as outbound on the customer's timeline, in the thread it answers, never as a new customer. Mail between two of them is not recorded.",
		},
		{
			displayName: 'Switch Off Built-In Rules',
			name: 'builtInRulesOff',
			type: 'multiOptions',
			options: [...BUILT_IN_RULE_IDS].sort().map((id) => ({ name: id, value: id, description: BUILT_IN_RULES[id] })),
			default: [],
			description: 'Built-in identity rules to switch off, one by one (e.g. placeholder-emails when you test with example.com addresses)',
		},
		{
			displayName: 'Raw Payload Kept (KB)',
			name: 'rawPayloadKb',
			type: 'number',
			typeOptions: { minValue: 0, maxValue: 10240 },
			default: 32,
			description:
				"How much of each provider's raw payload is kept with the message, for audits and fields Omnithread does not read. Larger payloads are replaced by a note of their size; 0 keeps none. Erased with the person.",
		},
		{
			displayName: 'Conversation Idle Timeout (Days)',
			name: 'idleTimeoutDays',
			type: 'number',
			typeOptions: { minValue: 0.01, numberPrecision: 2 },
			default: 7,
			description: 'A conversation with no message for this long ends; the next message opens a new one',
		},
	];
}
