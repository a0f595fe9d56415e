'use strict';
/**
 * The figures of the identity benchmark, from the generator's ground truth and the contact every delivery
 * ended in. Pure computation: no store. Every pair count comes from a contingency table (the sum of
 * n choose 2 over the cells), so 100k deliveries cost O(n), never O(n^2).
 *
 * Only first deliveries count as messages here; redeliveries are judged on their own (recognised, and on
 * the same contact as the first delivery).
 */

const pairs = (k) => (k * (k - 1)) / 2;
const STRONG = new Set(['channel', 'verified']);

/** Sum of n choose 2 over the groups that keyOf puts the given deliveries in. */
function pairCount(indices, keyOf) {
  const groups = new Map();
  for (const i of indices) {
    const k = keyOf(i);
    groups.set(k, (groups.get(k) ?? 0) + 1);
  }
  let sum = 0;
  for (const n of groups.values()) sum += pairs(n);
  return sum;
}

/** `kind value (scope) [trust]`, as a person would read a handle. */
const showHandle = (h) => `${h.kind} ${JSON.stringify(h.value)}${h.scope ? ` (${h.scope})` : ''} [${h.trust}]`;

/** Up to `limit` items, taking one from each group in turn (largest group first). */
function roundRobin(groups, limit) {
  const lists = [...groups.values()].sort((a, b) => b.length - a.length);
  const out = [];
  for (let round = 0; out.length < limit && lists.some((l) => l.length > round); round++) {
    for (const l of lists) if (out.length < limit && l[round]) out.push(l[round]);
  }
  return out;
}

function unionFind(n) {
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (i) => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  return { find, union: (a, b) => (parent[find(a)] = find(b)) };
}

/**
 * @param deliveries the generator's deliveries, in ingest order
 * @param people the generator's people ({ id, name })
 * @param final per delivery, the contact it belongs to at the end (its survivor), or null if ingest refused it
 * @param explanation per delivery, the identity explanation the core returned
 * @param duplicate per delivery, whether the core called it a redelivery
 */
function measure({ deliveries, people, final, explanation, duplicate }) {
  const n = deliveries.length;
  // Contacts as small integers; a refused delivery is a contact of its own (it joined nobody).
  const contactIds = new Map();
  const contact = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const id = final[i] ?? `refused:${i}`;
    if (!contactIds.has(id)) contactIds.set(id, contactIds.size);
    contact[i] = contactIds.get(id);
  }
  const C = contactIds.size + 1;
  const idOf = [...contactIds.keys()];
  const firsts = [];
  for (let i = 0; i < n; i++) if (deliveries[i].original < 0) firsts.push(i);
  const person = (i) => deliveries[i].personId;
  const personal = (i) => deliveries[i].truth.some((t) => t.cls === 'personal');

  // Value spaces: a value marked personal must belong to one person. Anything else is a generator flaw.
  const ownerOf = new Map();
  const collisions = [];
  for (const i of firsts) {
    for (const t of deliveries[i].truth) {
      if (t.cls !== 'personal') continue;
      const had = ownerOf.get(t.key);
      if (had === undefined) ownerOf.set(t.key, person(i));
      else if (had !== person(i) && collisions.length < 10) collisions.push({ key: t.key, people: [had, person(i)] });
    }
  }

  // Pairwise precision and recall over messages.
  const samePerson = pairCount(firsts, person);
  const sameContact = pairCount(firsts, (i) => contact[i]);
  const both = pairCount(firsts, (i) => person(i) * C + contact[i]);
  const precision = sameContact ? both / sameContact : 1;
  const recall = samePerson ? both / samePerson : 1;

  // Linkable pairs: a chain of the person's own messages, each link a personal value both carry at
  // channel or verified trust (what the rules may merge on their own).
  const uf = unionFind(n);
  const lastWith = new Map();
  const splits = new Map(); // person -> first link the core left apart: { a, b, key }
  for (const i of firsts) {
    const { truth, input } = deliveries[i];
    truth.forEach((t, j) => {
      if (t.cls !== 'personal' || !STRONG.has(input.from.handles[j].trust)) return;
      const k = `${person(i)}|${t.key}`;
      const prev = lastWith.get(k);
      if (prev !== undefined) {
        uf.union(i, prev);
        if (contact[prev] !== contact[i] && !splits.has(person(i))) splits.set(person(i), { a: prev, b: i, key: t.key });
      }
      lastWith.set(k, i);
    });
  }
  const linkable = pairCount(firsts, (i) => uf.find(i));
  const linked = pairCount(firsts, (i) => uf.find(i) * C + contact[i]);
  // The product's promise is one person across channels: the same figures over pairs of messages on two
  // different channels, which same-thread pairs (most pairs) can not flatter.
  const channelNo = new Map();
  const ch = (i) => channelNo.get(deliveries[i].input.channel) ?? channelNo.set(deliveries[i].input.channel, channelNo.size).get(deliveries[i].input.channel);
  const across = (keyOf) => pairCount(firsts, keyOf) - pairCount(firsts, (i) => keyOf(i) * 32 + ch(i));
  const crossLinkable = across((i) => uf.find(i));
  const crossLinked = across((i) => uf.find(i) * C + contact[i]);
  const crossPerson = across(person);
  const crossPersonTogether = across((i) => person(i) * C + contact[i]);

  // Forbidden merges: people whose own values ended in one contact.
  const peopleIn = new Map(); // contact -> Map(person -> first personal delivery)
  for (const i of firsts) {
    if (!personal(i)) continue;
    const m = peopleIn.get(contact[i]) ?? new Map();
    if (!m.has(person(i))) m.set(person(i), i);
    peopleIn.set(contact[i], m);
  }
  const mixed = [...peopleIn].filter(([, m]) => m.size > 1).sort((a, b) => Math.min(...a[1].values()) - Math.min(...b[1].values()));
  const pairBound = mixed.reduce((s, [, m]) => s + pairs(m.size), 0);
  let forbiddenPairs = pairBound;
  const exact = pairBound <= 2_000_000; // beyond that, a pair met in two contacts may be counted twice
  if (exact) {
    const seen = new Set();
    for (const [, m] of mixed) {
      const ps = [...m.keys()].sort((a, b) => a - b);
      for (let x = 0; x < ps.length; x++) for (let y = x + 1; y < ps.length; y++) seen.add(ps[x] * 1e7 + ps[y]);
    }
    forbiddenPairs = seen.size;
  }
  const mixedContacts = new Set(mixed.map(([c]) => c));
  const largest = mixed.reduce((best, [c, m]) => (m.size > (best?.people ?? 0) ? { contact: idOf[c], people: m.size } : best), null);
  if (largest) largest.messages = firsts.filter((i) => idOf[contact[i]] === largest.contact).length;
  // What joined each mixed contact: the kinds of value that messages of two of its people both carry.
  const messagesOf = new Map(mixed.map(([c]) => [c, []]));
  for (const i of firsts) messagesOf.get(contact[i])?.push(i);
  const byCause = {};
  const contactsByCause = new Map();
  for (const [c, m] of mixed) {
    const holders = new Map();
    const clsOf = new Map();
    for (const i of messagesOf.get(c)) {
      for (const t of deliveries[i].truth) {
        clsOf.set(t.key, t.cls);
        holders.set(t.key, (holders.get(t.key) ?? new Set()).add(person(i)));
      }
    }
    const cause = [...new Set([...holders].filter(([, ps]) => ps.size > 1).map(([k]) => clsOf.get(k)))].sort().join('+') || 'no value in common';
    byCause[cause] ??= { contacts: 0, personPairs: 0 };
    byCause[cause].contacts++;
    byCause[cause].personPairs += pairs(m.size);
    contactsByCause.set(cause, [...(contactsByCause.get(cause) ?? []), [c, m]]);
  }
  const forbiddenExamples = roundRobin(contactsByCause, 10).map(([c, m]) => {
    const [pa, pb] = [...m.keys()];
    const inContact = messagesOf.get(c);
    const side = (p) => {
      const own = inContact.filter((i) => person(i) === p);
      const handles = new Set();
      own.forEach((i) => deliveries[i].input.from.handles.forEach((h, j) => deliveries[i].truth[j].cls === 'personal' && handles.add(showHandle(h))));
      return { person: p, name: people[p].name, messages: own.length, handles: [...handles].slice(0, 4) };
    };
    const keysOf = (p) => new Set(inContact.filter((i) => person(i) === p).flatMap((i) => deliveries[i].truth.map((t) => `${t.key} (${t.cls})`)));
    const kb = keysOf(pb);
    return { contact: idOf[c], people: m.size, a: side(pa), b: side(pb), common: [...keysOf(pa)].filter((k) => kb.has(k)).slice(0, 4) };
  });

  // Messages that carry only shared or unusable values: not forbidden merges, counted apart.
  const sharedOnly = firsts.filter((i) => !personal(i));
  const sharedByClass = {};
  for (const i of sharedOnly) {
    const cls = [...new Set(deliveries[i].truth.map((t) => t.cls))].sort().join('+');
    sharedByClass[cls] = (sharedByClass[cls] ?? 0) + 1;
  }
  const onSomeoneElse = sharedOnly.filter((i) => [...(peopleIn.get(contact[i])?.keys() ?? [])].some((p) => p !== person(i))).length;

  // Per trait: how many messages, how many sit with another person's values, how many apart from the
  // contact that holds most of their person's messages.
  const cells = new Map();
  for (const i of firsts) cells.set(person(i) * C + contact[i], (cells.get(person(i) * C + contact[i]) ?? 0) + 1);
  const main = new Map();
  for (const [cell, count] of cells) {
    const p = Math.floor(cell / C);
    if (!main.has(p) || count > main.get(p).count) main.set(p, { contact: cell % C, count });
  }
  const traits = {};
  for (let i = 0; i < n; i++) {
    for (const t of deliveries[i].traits) {
      const s = (traits[t] ??= { messages: 0, people: new Set(), withOtherPeople: 0, apart: 0 });
      s.messages++;
      s.people.add(person(i));
      if (mixedContacts.has(contact[i])) s.withOtherPeople++;
      if (main.get(person(i))?.contact !== contact[i]) s.apart++;
    }
  }
  for (const s of Object.values(traits)) s.people = s.people.size;

  // Redeliveries.
  const redeliveries = deliveries.map((d, i) => (d.original >= 0 ? i : -1)).filter((i) => i >= 0);
  const recognised = redeliveries.filter((i) => duplicate[i]).length;
  const sameAsFirst = redeliveries.filter((i) => contact[i] === contact[deliveries[i].original]).length;
  const falseDuplicates = firsts.filter((i) => duplicate[i]).length;

  // Hand-check sample: linkable messages left apart, spread over the kind of value that links them and
  // the two channels, so that one frequent failure does not fill all ten.
  const byKind = new Map();
  for (const s of splits.values()) {
    const kind = `${s.key.split(':')[0]} ${[deliveries[s.a].input.channel, deliveries[s.b].input.channel].sort().join('/')}`;
    byKind.set(kind, [...(byKind.get(kind) ?? []), s]);
  }
  const sample = roundRobin(byKind, 10);
  const describe = (i) => ({
    channel: deliveries[i].input.channel,
    at: new Date(deliveries[i].input.sentAt).toISOString().slice(0, 16).replace('T', ' '),
    traits: deliveries[i].traits,
    handles: deliveries[i].input.from.handles.map(showHandle),
    contact: idOf[contact[i]],
  });
  const handCheck = sample.map((s) => ({
    person: person(s.a),
    name: people[person(s.a)].name,
    linkedBy: s.key,
    earlier: describe(s.a),
    later: describe(s.b),
    explanation: explanation[s.b],
  }));

  // Second sample: what is left apart on purpose (no chain of the person's own values at channel or verified
  // trust links it): a message away from its person's main contact, with the core's explanation, spread
  // over the reason the generator planted (its first trait, else its channel).
  const apartByKind = new Map();
  for (const i of firsts) {
    const home = main.get(person(i));
    if (!home || home.contact === contact[i] || mixedContacts.has(contact[i])) continue;
    const kind = deliveries[i].traits[0] ?? deliveries[i].input.channel;
    apartByKind.set(kind, [...(apartByKind.get(kind) ?? []), { i, home: home.contact }]);
  }
  const leftApart = roundRobin(apartByKind, 10).map(({ i, home }) => ({
    person: person(i),
    name: people[person(i)].name,
    message: describe(i),
    mainContact: idOf[home],
    explanation: explanation[i],
  }));

  const channels = {};
  for (const i of firsts) channels[deliveries[i].input.channel] = (channels[deliveries[i].input.channel] ?? 0) + 1;
  return {
    messages: firsts.length,
    channels,
    contactsHoldingMessages: new Set(firsts.map((i) => contact[i])).size,
    refused: final.filter((f) => f === null).length,
    valueSpaces: { accidentalCollisions: collisions.length, examples: collisions },
    pairwise: { precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0, samePersonPairs: samePerson, sameContactPairs: sameContact, truePairs: both },
    linkable: {
      pairs: linkable, together: linked, recall: linkable ? linked / linkable : 1, peopleSplit: splits.size,
      crossChannel: { pairs: crossLinkable, together: crossLinked, recall: crossLinkable ? crossLinked / crossLinkable : 1 },
    },
    crossChannel: { samePersonPairs: crossPerson, together: crossPersonTogether, recall: crossPerson ? crossPersonTogether / crossPerson : 1 },
    forbidden: {
      personPairs: forbiddenPairs,
      exact,
      contacts: mixed.length,
      peopleInvolved: new Set(mixed.flatMap(([, m]) => [...m.keys()])).size,
      byCause,
      largest,
      examples: forbiddenExamples,
    },
    sharedOnly: { messages: sharedOnly.length, contacts: new Set(sharedOnly.map((i) => contact[i])).size, onAnotherPersonsContact: onSomeoneElse, byClass: sharedByClass },
    redeliveries: { planted: redeliveries.length, recognised, onSameContact: sameAsFirst, falseDuplicates },
    traits,
    handCheck,
    leftApart,
  };
}

module.exports = { measure, pairCount, showHandle };
