import type { IAuthenticateGeneric, ICredentialTestRequest, ICredentialType, INodeProperties, Icon } from 'n8n-workflow';

/**
 * An OpenAI-compatible chat-completions API (OpenAI, Ollama, vLLM, LiteLLM...) for the AI Route node's
 * classification, when no Chat Model sub-node is connected. The fields are the core's LLM settings
 * (LlmSettingsSchema in shared/routing/classify.ts). Tested with GET {baseUrl}/models, which
 * OpenAI-compatible servers offer (https://platform.openai.com/docs/api-reference/models/list).
 */
export class OmnithreadLlmApi implements ICredentialType {
	name = 'omnithreadLlmApi';

	displayName = 'Omnithread LLM API';

	icon: Icon = { light: 'file:llm.svg', dark: 'file:llm.dark.svg' };

	documentationUrl = 'https://github.com/omnithread/n8n-nodes-omnithread#ai-route-n8n--omnithread-route-node-red';

	properties: INodeProperties[] = [
		{
			displayName: 'Base URL',
			name: 'baseUrl',
			type: 'string',
			default: 'https://api.openai.com/v1',
			required: true,
			placeholder: 'http://localhost:11434/v1',
			description: 'Root of the OpenAI-compatible API, e.g. https://api.openai.com/v1, or http://localhost:11434/v1 for Ollama',
		},
		{
			displayName: 'API Key',
			name: 'apiKey',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			description: 'Sent as a Bearer token; leave empty for a local server that needs none',
		},
		{
			displayName: 'Model',
			name: 'model',
			type: 'string',
			default: 'gpt-4o-mini',
			required: true,
			description: 'Name of the chat model that classifies the messages',
		},
	];

	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: { headers: { Authorization: '=Bearer {{$credentials.apiKey}}' } },
	};

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{ String($credentials.baseUrl).replace(/\\/+$/, "") }}',
			url: '/models',
			method: 'GET',
		},
	};
}
