/** Every channel the trigger offers. A channel module added here appears in both engines' triggers. */
import { ChannelModule } from './channel';
import { emailChannel } from './email';
import { genericChannel } from './generic';
import { instagramChannel } from './instagram';
import { messengerChannel } from './messenger';
import { telegramChannel } from './telegram';
import { twilioSmsChannel, twilioVoiceChannel } from './twilio';
import { webchatChannel } from './webchat';
import { whatsappChannel } from './whatsapp';
import { xChannel } from './x';

const modules: ChannelModule<unknown>[] = [
  genericChannel,
  whatsappChannel,
  messengerChannel,
  instagramChannel,
  telegramChannel,
  twilioSmsChannel,
  twilioVoiceChannel,
  xChannel,
  emailChannel,
  webchatChannel,
].map((channel) => channel as ChannelModule<unknown>);

export const CHANNELS: Record<string, ChannelModule<unknown>> = Object.fromEntries(modules.map((channel) => [channel.id, channel]));

export function channelById(id: string): ChannelModule<unknown> | undefined {
  return CHANNELS[id];
}

export * from './channel';
export { genericChannel, signGeneric, GenericChannelConfigSchema } from './generic';
export type { GenericChannelConfig, GenericMessage } from './generic';
export { whatsappChannel } from './whatsapp';
export { messengerChannel } from './messenger';
export { instagramChannel } from './instagram';
export { telegramChannel, telegramSetWebhook, telegramDeleteWebhook, telegramWebhookInfo } from './telegram';
export { twilioSmsChannel, twilioVoiceChannel } from './twilio';
export { xChannel } from './x';
export { metaSignature } from './meta';
export { emailChannel, parseEmail, sendEmail, EmailSendConfigSchema } from './email';
export type { EmailSendConfig } from './email';
export { webchatChannel, webchatUserHash, webchatReplies, widgetScript, demoPage } from './webchat';
export type { WebchatFeed, WebchatFeedMessage, WidgetOptions } from './webchat';
