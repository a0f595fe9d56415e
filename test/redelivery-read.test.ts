/**
 * A message recorded before is answered from a read, on both stores: a provider's redelivery, or the
 * trigger's message handed to Identity Resolve in the same flow (the template's second step), opens no
 * write transaction and takes no lock, and still says what it is (the same event, contact and conversation).
 * An edit of a recorded message still writes.
 */
import { describeStores } from './support/stores';
import { email, message } from './support/messages';

describeStores('redeliveries are reads', (ctx) => {
  test('the second delivery of a message opens no write transaction; an edit does', async () => {
    const ot = ctx().omnithread({ clock: () => Date.parse('2026-11-30T09:00:00Z') });
    const first = await ot.ingest(message([email('lena.berg@fastmail.com')], { channel: 'email', channelAccount: 'support@shop.test', providerMessageId: 'm-redelivery-1', text: 'Where is order 77?' }));
    const writes = jest.spyOn(ctx().store.driver, 'transaction');
    try {
      const again = await ot.ingest(message([email('lena.berg@fastmail.com')], { channel: 'email', channelAccount: 'support@shop.test', providerMessageId: 'm-redelivery-1', text: 'Where is order 77?' }));
      expect(writes).not.toHaveBeenCalled();
      expect(again).toMatchObject({ duplicate: true, effect: 'duplicate', event: { id: first.event!.id }, contact: { id: first.contact.id }, conversation: { id: first.conversation!.id } });
      const edited = await ot.ingest(message([email('lena.berg@fastmail.com')], { channel: 'email', channelAccount: 'support@shop.test', providerMessageId: 'm-redelivery-1', text: 'Where is order 78?', editedAt: '2026-11-30T09:05:00Z' }));
      expect(writes).toHaveBeenCalledTimes(1);
      expect(edited.event?.text).toBe('Where is order 78?');
    } finally {
      writes.mockRestore();
    }
  });
});
