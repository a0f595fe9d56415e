/**
 * Omnithread's core: one identity, one timeline and one conversation per person across every channel.
 * Engine-agnostic: the n8n and Node-RED nodes are thin adapters over this module.
 */
import { checkNodeVersionAtLoad } from './runtime-check';

// Omnithread's Node.js requirement, checked once when any n8n or Node-RED node file loads the core.
checkNodeVersionAtLoad();

export * from './model';
export { NODE_REQUIREMENT, nodeVersionSupported, nodeRequirementMessage } from './runtime-check';
export * from './errors';
export { newId } from './ids';
export { openStore, StoreConfigSchema, MIGRATIONS, migrate } from './store';
export type { Store, StoreConfig, SqlDriver, SqlExecutor, SqlTransaction } from './store';
export { compileRules, IdentityRulesSchema, DEFAULT_KIND_RULES, blockedReason, sharedReason, isOwnAddress } from './identity/rules';
export type { IdentityRules, IdentityRulesInput, KindRule } from './identity/rules';
export { BUILT_IN_RULES, BUILT_IN_RULE_IDS } from './identity/built-in';
export type { BuiltInRule } from './identity/built-in';
export { normalizeHandle, normalizeHandles, normalizeEmail, normalizePhone, parsePhone } from './identity/normalize';
export type { NormalizedHandle, NormalizedHandles, SkippedHandle, PhoneResult, PhoneRules } from './identity/normalize';
export { extractReplyText } from './email/reply-text';
export type { ReplyText } from './email/reply-text';
export type { Resolution, ResolveStep, ResolveAction } from './identity/resolve';
export type { MergeRecord, MergeSuggestion } from './identity/contacts';
export { TimelineFilterSchema } from './timeline/events';
export type { TimelineFilter, TimelinePage } from './timeline/events';
export { buildTranscript, estimateTokens, TranscriptOptionsSchema } from './timeline/transcript';
export type { Transcript, TranscriptOptions, TranscriptConversation } from './timeline/transcript';
export { computeMetrics, conversationFacts, MetricsAccumulator } from './timeline/metrics';
export type { MetricsReport, MetricsFigures, MetricsQuery, MetricsBucket, Distribution, MetricsConversationInput, MetricsFact } from './timeline/metrics';
export { METRIC_DEFINITIONS, contentWords, isRestatement, distribution, bucketStarts } from './timeline/metrics-definitions';
export { MetricsQueryInputSchema } from './facade/metrics';
export type { MetricsQueryInput } from './facade/metrics';
export { Omnithread, createOmnithread, OmnithreadOptionsSchema } from './omnithread';
export type { OmnithreadOptions, IngestResult, RecordResult, ContactExport, EraseReport } from './omnithread';
export type { IngestEffect } from './facade/types';
export {
  CHANNELS,
  channelById,
  genericChannel,
  signGeneric,
  GenericChannelConfigSchema,
  header,
  whatsappChannel,
  messengerChannel,
  instagramChannel,
  telegramChannel,
  telegramSetWebhook,
  telegramDeleteWebhook,
  telegramWebhookInfo,
  twilioSmsChannel,
  twilioVoiceChannel,
  xChannel,
  metaSignature,
} from './channels';
export type { ChannelModule, SyncChannelModule, SettingField, WebhookRequest, WebhookReply, Verification, InboundItem, OutboundRequest, SendResult, GenericChannelConfig, GenericMessage } from './channels';
export { handleWebhook, channelConfig, triggerOutput, renderReply, isProviderReply, failureReply, RETRY_AFTER_SECONDS } from './webhook';
export type { WebhookOutcome, TriggerOutput } from './webhook';
export { NodeStoreSettingsSchema, resolveSettings, defaultSqlitePath } from './settings';
export type { NodeStoreSettings, ResolvedSettings } from './settings';
export { acquireStore, omnithreadFor, omnithreadOn, closeAllStores, setRuntimeClock } from './runtime';
export {
  IdentityOperationSchema,
  TimelineOperationSchema,
  IDENTITY_OPERATION_FIELDS,
  TIMELINE_OPERATION_FIELDS,
  runIdentityOperation,
  runTimelineOperation,
} from './operations';
export type { IdentityOperation, TimelineOperation } from './operations';
export { sendReply, ReplyRequestSchema, REPLY_WINDOWS_MS } from './reply';
export type { ReplyRequest, ReplyResult, ReplyOptions } from './reply';
export { deliveryOf, isTemporary, withBackoff } from './delivery';
export type { Delivery } from './delivery';
export { DEFAULT_LEASE_MS } from './facade/sending';
export type { SendState, SendLease, Reservation, OutboundOutcome } from './facade/sending';
export { emailChannel, parseEmail, sendEmail, EmailSendConfigSchema, webchatChannel, webchatUserHash, webchatReplies, widgetScript, demoPage } from './channels';
export type { EmailSendConfig, WebchatFeed, WebchatFeedMessage, WidgetOptions, ServeContext } from './channels';
export { endpointOf } from './webhook';
export { pollEmailIntoTimeline, failedPoll, ImapSettingsSchema, IMAP_SETTING_FIELDS, MAILBOX_SETTING_FIELDS, emailCursorKey } from './email/poll';
export type { ImapSettings, EmailPollResult, EmailPollFailure } from './email/poll';
export { pollMailbox, cursorKey, MemoryCursorStore } from './email/imap';
export { checkImapLogin, checkSmtpLogin, ImapLoginSchema } from './email/check';
export type { ImapLogin } from './email/check';
export {
  AgentInputSchema,
  AgentFilterSchema,
  AgentKindSchema,
  AgentStatusSchema,
  AgentIdSchema,
  RosterImportSchema,
  AGENT_KINDS,
  AGENT_STATUSES,
  DEFAULT_CHANNEL_COSTS,
  DEFAULT_CAPACITY,
  DEFAULT_SKILL_LEVEL,
  channelCost,
  loadOf,
  languageMatches,
  agentMatches,
} from './routing/roster';
export type { Agent, AgentInput, AgentFilter, AgentKind, AgentStatus, AgentLoad, Load } from './routing/roster';
export type { OmnithreadRoster, AssignedConversation } from './omnithread';
export * from './routing/types';
export * from './routing/classify';
export * from './routing/route';
export * from './routing/handoff';
export * from './routing/operations';
export { Desk, createDesk, errorResponse as deskErrorResponse } from './desk/server';
export type { DeskOptions, DeskHttpRequest, DeskHttpResponse } from './desk/server';
export { issueLink as issueDeskLink, hashPassword as hashDeskPassword } from './desk/auth';
export * as deskContract from './desk/contract';
