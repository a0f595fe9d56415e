import type { HandleInput, MessageInput } from '../shared';
import { describeStores, uniqueWorkspace } from './support/stores';
import { runInProcesses } from './support/workers';

const PROCESSES = 4;

/** A deterministic shuffle, so a failure can be replayed. */
function shuffle<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describeStores('concurrency across OS processes', (ctx) => {
  // With PostgreSQL each process also runs 8 ingests at once over an 8-connection pool.
  const lanes = () => (ctx().kind === 'postgres' ? 8 : 1);
  const poolConfig = () => (ctx().kind === 'postgres' ? { ...ctx().config, poolSize: 8 } : ctx().config);

  test('the same new people arriving at once through different handles end as one contact each, with every handle and every event', async () => {
    const people = 20;
    const perPerson = 12;
    const workspace = uniqueWorkspace();
    const handlesOf = (p: number): HandleInput[] => [
      { kind: 'email', value: `person${p}@crowd.io`, trust: 'channel' },
      { kind: 'phone', value: `+1415555${String(1000 + p)}`, trust: 'channel' },
      { kind: 'telegram_user', scope: 'bot', value: `tg-${p}`, trust: 'channel' },
      { kind: 'webchat_visitor', scope: 'site', value: `visitor-${p}`, trust: 'channel' },
      { kind: 'whatsapp_id', scope: 'waba', value: `wa-${p}`, trust: 'channel' },
    ];
    // Pairs of handles, so the messages only link up as a whole: no single message names everything.
    const pairs = [[0, 3], [1, 0], [2, 1], [3, 2], [4, 1], [0, 4], [2, 3], [4, 2], [3, 1], [0, 2], [1, 4], [3, 4]];
    const messages: MessageInput[] = [];
    for (let p = 0; p < people; p++) {
      for (let m = 0; m < perPerson; m++) {
        const [a, b] = pairs[m % pairs.length];
        messages.push({
          channel: 'generic',
          providerMessageId: `p${p}-m${m}`,
          from: { handles: [handlesOf(p)[a], handlesOf(p)[b]] },
          text: `person ${p} message ${m}`,
        });
      }
    }
    // Interleave: every process works on every person at the same time.
    const batches: MessageInput[][] = Array.from({ length: PROCESSES }, () => []);
    shuffle(messages, 7).forEach((message, i) => batches[i % PROCESSES].push(message));
    const results = await runInProcesses(poolConfig(), workspace, batches, lanes());

    expect(results.filter((r) => r.error)).toEqual([]);
    expect(results).toHaveLength(people * perPerson);
    const { createOmnithread } = await import('../shared');
    const ot = createOmnithread({ store: ctx().store, workspace });
    const survivors = new Set<string>();
    for (let p = 0; p < people; p++) {
      const ids = new Set<string>();
      for (const handle of handlesOf(p)) ids.add((await ot.findContact(handle))!.id);
      expect(ids.size).toBe(1); // one contact holds every handle of the person
      const [contactId] = ids;
      survivors.add(contactId);
      const contact = await ot.getContact(contactId);
      expect(contact.identities.map((i) => i.value).sort()).toEqual(handlesOf(p).map((h) => (h.kind === 'email' ? h.value : h.value)).sort());
      const events = await ot.timeline(contactId, { kinds: ['message'], limit: 1000 });
      expect(events.events.map((e) => e.text).sort()).toEqual(Array.from({ length: perPerson }, (_, m) => `person ${p} message ${m}`).sort());
      // Contacts created in parallel before a message linked them each opened a conversation; all stay
      // open and the transcript shows them as one current episode.
      const transcript = await ot.transcript(contactId, { maxTokens: 5000 });
      expect(transcript.omittedEvents).toBe(0);
      for (let m = 0; m < perPerson; m++) expect(transcript.text).toContain(`Customer: person ${p} message ${m}`);
      expect(transcript.text).not.toContain('Earlier conversations');
    }
    expect(survivors.size).toBe(people);
  });

  test('1,000 deliveries with 30% redeliveries, some concurrent, record exactly one event per provider message id', async () => {
    const workspace = uniqueWorkspace();
    const unique: MessageInput[] = Array.from({ length: 700 }, (_, i) => ({
      channel: 'whatsapp',
      channelAccount: 'phone-1',
      providerMessageId: `wamid.${i}`,
      from: { handles: [{ kind: 'phone', value: `+1415556${String(1000 + (i % 50))}`, trust: 'channel' }] },
      text: `delivery ${i}`,
    }));
    const redeliveries = shuffle(unique, 3).slice(0, 300);
    const deliveries = shuffle([...unique, ...redeliveries], 11);
    const batches: MessageInput[][] = Array.from({ length: PROCESSES }, () => []);
    deliveries.forEach((message, i) => batches[i % PROCESSES].push(message));
    // Put 40 redeliveries at the head of two processes each, so they race each other for real.
    const racing = unique.slice(0, 40);
    batches[0].unshift(...racing);
    batches[1].unshift(...racing);
    const results = await runInProcesses(poolConfig(), workspace, batches, lanes());

    expect(results.filter((r) => r.error)).toEqual([]);
    expect(results).toHaveLength(1080);
    expect(results.filter((r) => !r.duplicate)).toHaveLength(700);
    expect(results.filter((r) => r.duplicate)).toHaveLength(380);
    const eventsById = new Map<string, Set<string>>();
    for (const r of results) eventsById.set(r.id, (eventsById.get(r.id) ?? new Set()).add(r.eventId!));
    expect([...eventsById.values()].every((ids) => ids.size === 1)).toBe(true);

    const counts = await ctx().store.driver.read((db) =>
      db.all<{ provider_message_id: string; n: number }>(
        `SELECT provider_message_id, COUNT(*) AS n FROM events WHERE workspace = ? AND kind = 'message' GROUP BY provider_message_id`,
        [workspace],
      ),
    );
    expect(counts).toHaveLength(700);
    expect(counts.every((c) => Number(c.n) === 1)).toBe(true);
  });
});
