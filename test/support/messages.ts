import type { HandleInput, MessageInput } from '../../shared';

let sequence = 0;

/** A valid inbound message with sensible defaults; every call gets a new provider message id. */
export function message(handles: HandleInput[], overrides: Partial<MessageInput> = {}): MessageInput {
  sequence += 1;
  return {
    channel: 'generic',
    channelAccount: 'acct-1',
    providerMessageId: `msg-${process.pid}-${sequence}`,
    from: { handles },
    text: `message ${sequence}`,
    ...overrides,
  };
}

export const email = (value: string, trust: HandleInput['trust'] = 'channel'): HandleInput => ({ kind: 'email', value, trust });
export const phone = (value: string, trust: HandleInput['trust'] = 'channel'): HandleInput => ({ kind: 'phone', value, trust });
export const account = (value: string, trust: HandleInput['trust'] = 'verified'): HandleInput => ({ kind: 'account', value, trust });
export const scoped = (kind: HandleInput['kind'], scope: string, value: string, trust: HandleInput['trust'] = 'channel'): HandleInput => ({
  kind,
  scope,
  value,
  trust,
});
