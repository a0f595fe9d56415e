// Types for test/support/whatsapp-delivery.js (plain CommonJS, also loaded by bench/node-red-flow/load.js).

/** The WhatsApp Business Account and the phone number the deliveries are addressed to. */
export const WABA: string;
export const PNID: string;

/** The raw body of a "messages" delivery of one text message: `text` from `name` (wa_id `waId`) with id `wamid`, sent at `timestamp` (Unix seconds). */
export function whatsappTextDelivery(options: { waId: string; wamid: string; name: string; text: string; timestamp: string; extra?: Record<string, unknown> }): string;
