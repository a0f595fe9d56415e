#!/usr/bin/env node
// `npm start` (until the Node-RED demo lands): plays the product's story against the embedded SQLite
// store in ./.data and prints what Omnithread made of it. A customer chats on the web (visitor id and a
// signed-in email), emails the next day, then texts from their phone: one contact, one timeline.
// Run it twice: the second run is all redeliveries, recognised and not recorded again.
const path = require('node:path');
const dist = path.join(__dirname, '..', 'dist', 'shared');
// The story uses the embedded SQLite store (node:sqlite): on an older Node say so, instead of a stack trace.
const { nodeVersionSupported, nodeRequirementMessage } = require(path.join(dist, 'runtime-check'));
if (!nodeVersionSupported()) {
  console.error(`${nodeRequirementMessage()}: this story uses the embedded SQLite store (Node's built-in node:sqlite).`);
  console.error('Run it with the Node 24 this repository installs: npm run story');
  process.exit(1);
}
const { openStore, createOmnithread } = require(dist);

const DAY = 24 * 3600 * 1000;

async function main() {
  const file = path.resolve(process.env.OMNITHREAD_SQLITE_PATH || path.join(__dirname, '..', '.data', 'omnithread.db'));
  const store = await openStore({ type: 'sqlite', path: file });
  const ot = createOmnithread({ store, workspace: 'demo', rules: { defaultCountry: 'GB' } });
  const start = Date.parse('2026-11-20T09:12:00Z');
  const deliveries = [
    {
      channel: 'webchat',
      channelAccount: 'shop.example-store.io',
      providerMessageId: 'chat-0001',
      sentAt: start,
      from: {
        name: 'Maya Lindqvist',
        handles: [
          { kind: 'webchat_visitor', scope: 'shop.example-store.io', value: 'visitor-7f3a', trust: 'channel' },
          { kind: 'email', value: 'Maya.Lindqvist@fastmail.fm', trust: 'verified' },
        ],
      },
      text: 'Hi! My order #5521 says delivered but nothing arrived.',
    },
    {
      channel: 'email',
      channelAccount: 'support@example-store.io',
      providerMessageId: '<CAF8x1@fastmail.fm>',
      threadKey: '<CAF8x1@fastmail.fm>',
      sentAt: start + DAY,
      from: { handles: [{ kind: 'email', value: 'maya.lindqvist@fastmail.fm', trust: 'channel' }] },
      text: 'Following up on yesterday\'s chat: still no parcel. Can you check with the courier?',
    },
    {
      channel: 'sms',
      channelAccount: '+447700900000',
      providerMessageId: 'SM5f1c0d',
      sentAt: start + DAY + 3 * 3600 * 1000,
      from: {
        handles: [
          { kind: 'phone', value: '07911 123456', trust: 'channel' },
          { kind: 'email', value: 'maya.lindqvist@fastmail.fm', trust: 'asserted' },
        ],
      },
      text: 'It\'s Maya again (maya.lindqvist@fastmail.fm), any update on #5521?',
    },
  ];

  console.log(`Omnithread core demo: SQLite store at ${file}\n`);
  let contactId;
  for (const delivery of deliveries) {
    const result = await ot.ingest(delivery);
    contactId = result.contact.id;
    console.log(`${delivery.channel.padEnd(8)} ${delivery.providerMessageId}`);
    if (result.duplicate) {
      console.log('         redelivery: recorded before, nothing written\n');
      continue;
    }
    console.log(`         contact ${result.contact.id}${result.channelSwitch ? `  (channel switch ${result.channelSwitch.from} -> ${result.channelSwitch.to})` : ''}`);
    console.log(`         ${result.identity.explanation}\n`);
  }
  // The SMS only *claims* the email (typed by the sender): Omnithread suggests a merge instead of
  // guessing. An agent who confirms it with the customer accepts the suggestion.
  for (const suggestion of await ot.suggestions({ contactId })) {
    console.log(`Suggestion ${suggestion.id}: ${suggestion.reason}`);
    const merge = await ot.acceptSuggestion(suggestion.id, { actor: 'agent:sam' });
    console.log(`Accepted by agent:sam -> merged ${merge.mergedId} into ${merge.survivorId} (${merge.id}, undo with unmerge)\n`);
    contactId = merge.survivorId;
  }
  const contact = await ot.getContact(contactId);
  const timeline = await ot.timeline(contactId);
  console.log(`One contact: ${contact.name} (${contact.id})`);
  for (const identity of contact.identities) console.log(`  ${identity.kind.padEnd(16)} ${identity.value}${identity.scope ? ` in ${identity.scope}` : ''} [${identity.trust}]`);
  console.log(`\nOne timeline (${timeline.events.length} events, chronological):`);
  for (const event of timeline.events) {
    const what = event.kind === 'message' ? event.text : `${event.kind} ${JSON.stringify(event.data)}`;
    console.log(`  ${event.occurredAt.slice(0, 16).replace('T', ' ')}  ${(event.channel || '-').padEnd(8)} ${what}`);
  }
  const transcript = await ot.transcript(contactId, { maxTokens: 600 });
  console.log(`\nTranscript for an agent or an LLM (${transcript.estimatedTokens} of ${transcript.maxTokens} tokens):\n`);
  console.log(transcript.text.replace(/^/gm, '  '));
  await store.close();
}

main().catch((error) => {
  console.error(error && error.name === 'OmnithreadError' ? `${error.message} (${error.code})` : error);
  process.exit(1);
});
