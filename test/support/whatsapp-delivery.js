'use strict';
/**
 * A WhatsApp Cloud API "messages" webhook delivery of one text message, as Meta posts it (the format of
 * test/channels/fixtures/whatsapp/text.json), made in one place for the reliability and scale tests
 * (test/reliability/kit.ts) and the Node-RED benchmark's load generator (bench/node-red-flow/load.js).
 * Plain CommonJS, so the benchmark loads it as it is (types: whatsapp-delivery.d.ts).
 */

/** The WhatsApp Business Account and the phone number the deliveries are addressed to. */
const WABA = '102290129340398';
const PNID = '106540352242922';

/** The raw body: `text` from `name` (wa_id `waId`) with id `wamid`, sent at `timestamp` (Unix seconds, a string); `extra` fields on the message. */
function whatsappTextDelivery({ waId, wamid, name, text, timestamp, extra = {} }) {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: WABA,
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: PNID },
              contacts: [{ profile: { name }, wa_id: waId }],
              messages: [{ from: waId, id: wamid, timestamp, type: 'text', text: { body: text }, ...extra }],
            },
          },
        ],
      },
    ],
  });
}

module.exports = { whatsappTextDelivery, WABA, PNID };
