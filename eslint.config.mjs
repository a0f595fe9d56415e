// Lint of the n8n half (npm run lint = eslint nodes/n8n credentials): typescript-eslint's recommended
// rules and n8n's community-node rules (@n8n/eslint-plugin-community-nodes `recommended`, the rules
// `n8n-node lint` and n8n's verification scanner apply). The legacy eslint-plugin-n8n-nodes-base cannot
// be installed with npm (its preinstall runs `only-allow pnpm`), so its rulesets are not applied.
// `npx eslint package.json` runs the plugin's package.json rules on the manifest.
// Every rule switched off below is switched off narrowly, with the reason.
import js from '@eslint/js';
import { n8nCommunityNodesPlugin } from '@n8n/eslint-plugin-community-nodes';
import tseslint from 'typescript-eslint';

const communityNodes = n8nCommunityNodesPlugin.configs.recommended;

export default tseslint.config(
	{ ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'examples/**'] },
	{
		files: ['nodes/n8n/**/*.ts', 'credentials/**/*.ts'],
		extends: [js.configs.recommended, tseslint.configs.recommended, communityNodes],
	},
	{
		files: ['credentials/OmnithreadStoreApi.credentials.ts'],
		rules: {
			// The PostgreSQL connection URL (postgres://user:password@host/db) carries the database password,
			// so it is a password field although its name does not say so.
			'@n8n/community-nodes/credential-unnecessary-password': 'off',
		},
	},
	{
		// typescript-eslint's parser reads a .json file as one object expression, which these rules expect.
		files: ['package.json'],
		languageOptions: { parser: tseslint.parser },
		plugins: communityNodes.plugins,
		rules: {
			...communityNodes.rules,
			// Omnithread is a self-hosted package for n8n AND Node-RED with an embedded database: zod,
			// libphonenumber-js and pg are runtime dependencies by design (DESIGN.md), so it is not an
			// n8n Cloud / verified package.
			'@n8n/community-nodes/no-runtime-dependencies': 'off',
		},
	},
);
