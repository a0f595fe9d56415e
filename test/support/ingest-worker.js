// A separate OS process that ingests a batch of messages into a shared store, the way a second n8n
// worker or Node-RED instance would. Started by test/support/workers.ts; waits for "go" so that all
// workers start at the same moment.
const path = require('node:path');
const { openStore, createOmnithread } = require(path.join(__dirname, '..', '..', 'dist', 'shared'));

const { config, workspace, messages, concurrency } = JSON.parse(process.env.OMNITHREAD_WORKER_INPUT);

async function main() {
  const store = await openStore(config);
  const ot = createOmnithread({ store, workspace });
  process.send({ type: 'ready' });
  await new Promise((resolve) => process.once('message', resolve));
  const results = [];
  let next = 0;
  async function lane() {
    while (next < messages.length) {
      const message = messages[next++];
      try {
        const result = await ot.ingest(message);
        results.push({ id: message.providerMessageId, duplicate: result.duplicate, contactId: result.contact.id, eventId: result.event && result.event.id });
      } catch (error) {
        results.push({ id: message.providerMessageId, error: `${error.code || ''} ${error.message}` });
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane));
  await store.close();
  process.send({ type: 'done', results });
}

main().catch((error) => {
  process.send({ type: 'failed', error: String(error && error.stack) });
});
