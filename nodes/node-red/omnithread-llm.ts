/**
 * omnithread-llm (config node): an OpenAI-compatible chat-completions API (OpenAI, Ollama, vLLM,
 * LiteLLM...) that AI Route nodes classify messages with. The settings are validated by the shared
 * LlmSettingsSchema when a message is classified (shared/routing/classify.ts), so the error names the field;
 * the API key is a credential, never exported with the flow.
 */
import { numberProperty } from './common';
import type { NodeDef, RedApi, RedNode } from './common';

/** What an AI Route node reads from an LLM config. */
interface LlmConfigNode extends RedNode {
  /** The LlmSettings (shared/routing/classify.ts) of this config: empty ones left out, so defaults apply. */
  settings: Record<string, unknown>;
}

interface LlmDef extends NodeDef {
  baseUrl?: string;
  model?: string;
  timeoutMs?: string | number;
  retries?: string | number;
}

/** The LlmSettings of a config node's properties and credentials. */
function settingsOf(def: LlmDef, credentials: Record<string, string | undefined>): Record<string, unknown> {
  const settings: Record<string, unknown> = {
    baseUrl: String(def.baseUrl ?? '').trim(),
    model: String(def.model ?? '').trim(),
    apiKey: credentials.apiKey ?? '',
  };
  const timeoutMs = numberProperty(def.timeoutMs);
  const retries = numberProperty(def.retries);
  if (timeoutMs !== undefined) settings.timeoutMs = timeoutMs;
  if (retries !== undefined) settings.retries = retries;
  return settings;
}

function register(RED: RedApi): void {
  function OmnithreadLlm(this: LlmConfigNode, def: LlmDef): void {
    RED.nodes.createNode(this, def);
    this.settings = settingsOf(def, this.credentials ?? {});
  }

  RED.nodes.registerType('omnithread-llm', OmnithreadLlm, { credentials: { apiKey: { type: 'password' } } });
}

export = Object.assign(register, { settingsOf });
