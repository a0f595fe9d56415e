/** Every channel the trigger offers. A channel module added here appears in both engines' triggers. */
import { ChannelModule } from './channel';
import { genericChannel } from './generic';

export const CHANNELS: Record<string, ChannelModule<unknown>> = {
  [genericChannel.id]: genericChannel as ChannelModule<unknown>,
};

export function channelById(id: string): ChannelModule<unknown> | undefined {
  return CHANNELS[id];
}

export * from './channel';
export { genericChannel, signGeneric, GenericChannelConfigSchema } from './generic';
export type { GenericChannelConfig, GenericMessage } from './generic';
