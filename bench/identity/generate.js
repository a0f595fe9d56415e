'use strict';
/**
 * Synthetic customers for the identity benchmark, and every message they send us over ~90 days, in the
 * normalised form the core takes (MessageInput, as the channel parsers in shared/channels make them).
 * The ground truth travels next to each input, never inside it:
 *   { personId, input, traits, truth: [{ key, cls }] (one per input.from.handles entry), at, original }
 * key: the value's canonical identity (lower-case email, E.164 phone with Brazil's ninth digit, scoped
 * id + scope); cls: 'personal' (this person's alone and usable), or why it is not: 'landline',
 * 'shared-mobile', 'role', 'placeholder', 'typo', 'username', 'foreign-national' (a number written
 * without its country code by someone from outside the default country). `at` is the arrival time (the clock of the
 * ingest); `original` is the index of the first delivery when this one is a provider's redelivery.
 *
 * Deterministic for a seed: the same seed always gives the same people and deliveries. Every random draw
 * is made whether or not its result is used (username handles exist only when the core knows the kind),
 * so the data with and without usernames differs in those handles alone.
 */
const { HANDLE_KINDS } = require('../../dist/shared');
const { rng, messageText } = require('../common');
const V = require('./values');
const { makePeople, reuseUsernames, weighted, DAY, START, SPAN } = require('./people');

const MIN = 60_000;
/** The rules' defaultCountry in score.js: numbers written without a country code are read as this one's. */
const DEFAULT_COUNTRY = 'GB';

/** Our brand's accounts on each channel: the channelAccount of a delivery and the scope of scoped ids. */
const BRAND = {
  sites: ['northwind-shop', 'northwind-help'],
  mailboxes: ['support@northwind-outfitters.com', 'orders@northwind-outfitters.com'],
  waba: '102290129340398',
  phoneNumberId: '106540352242922',
  twilio: { US: '+14155238886', other: '+442038089900' },
  bots: ['6839201557', '7264019383'],
  pages: ['104512398765432', '231987654321098'],
  xAccount: '1453286913748271104',
};

const CHANNELS = ['webchat', 'email', 'whatsapp', 'sms', 'voice', 'telegram', 'messenger', 'x'];
const WEIGHTS = {
  GB: [30, 30, 12, 6, 12, 3, 5, 2],
  US: [30, 30, 4, 14, 12, 2, 6, 2],
  DE: [28, 30, 22, 2, 8, 6, 3, 1],
  FR: [28, 30, 18, 3, 9, 5, 5, 2],
  BR: [20, 18, 45, 6, 6, 6, 4, 1],
  ES: [25, 25, 35, 2, 8, 4, 3, 1],
};

const usernameAt = (history, t) => history.filter(([from]) => from <= t).pop()[1];

/** Builds one delivery's handles and their truth, side by side. */
function handleList() {
  const handles = [];
  const truth = [];
  const traits = new Set();
  return {
    handles, truth, traits,
    add(handle, key, cls) {
      handles.push(handle);
      truth.push({ key, cls });
    },
  };
}

function makeDeliveries(r, people, { usernames, reused, taken }) {
  const out = [];
  const typos = new Set();
  const psids = new Set();
  const telegramSeq = new Map();
  const lineClass = (p, line) => (line === p.landline ? 'landline' : line === p.parentLine?.mobile || p.mobileShared ? 'shared-mobile' : 'personal');
  const phoneKey = (line) => `phone:${line.e164}`;

  const typedPhone = (p, h, trust) => {
    if (r() < p.placeholderRate) {
      const value = r.pick(V.PLACEHOLDER_PHONES);
      h.add({ kind: 'phone', value, trust }, `placeholder:phone:${value}`, 'placeholder');
      h.traits.add('placeholder-phone');
      return;
    }
    const line = p.teen && r() < 0.6 ? p.parentLine.mobile : p.landline && (r() < 0.35 || !p.mobile) ? p.landline : p.mobile ?? p.landline;
    if (!line) return;
    const value = V.typedPhone(r, line, p.phoneStyle);
    // A number written the national way by someone outside the default country: the rules can not
    // know its country, so it can not count as a link the rules should have made.
    const foreign = line.country !== DEFAULT_COUNTRY && !value.startsWith('+');
    const cls = lineClass(p, line) === 'personal' && foreign ? 'foreign-national' : lineClass(p, line);
    h.add({ kind: 'phone', value, trust }, phoneKey(line), cls);
    if (cls === 'landline') h.traits.add('landline-typed');
    if (cls === 'shared-mobile') h.traits.add(p.teen ? 'shared-mobile-teen' : 'shared-mobile-parent');
    if (foreign) h.traits.add('foreign-national-phone');
    if (p.legacyBrazil && line === p.mobile) h.traits.add('br-13-digit');
  };

  const typedEmail = (p, h, trust) => {
    if (r() < p.placeholderRate) {
      const value = r.pick(V.PLACEHOLDER_EMAILS);
      h.add({ kind: 'email', value, trust }, `placeholder:email:${value}`, 'placeholder');
      h.traits.add('placeholder-email');
      return;
    }
    const base = p.workEmail && (r() < 0.4 || !p.privateEmail) ? p.workEmail : p.secondEmail && r() < 0.3 ? p.secondEmail : p.privateEmail;
    if (!base) return;
    let value = base;
    let cls = 'personal';
    const variant = base.endsWith('@gmail.com') && r() < 0.2;
    const typo = r() < 0.035 ? V.typoEmail(r, base) : null;
    if (variant) value = V.gmailVariant(r, base);
    // A typo must not land on somebody's real address (or an earlier typo): the collision would be ours.
    if (typo && !taken.emails.has(V.mailbox(typo)) && !typos.has(V.mailbox(typo))) {
      value = typo;
      typos.add(V.mailbox(value));
      cls = 'typo';
      h.traits.add('typo-email');
    } else if (variant) h.traits.add('gmail-variant');
    if (base === p.secondEmail || (base === p.workEmail && p.privateEmail)) h.traits.add('second-email');
    h.add({ kind: 'email', value: V.typedCase(r, value), trust }, `email:${value.toLowerCase()}`, cls);
  };

  const username = (h, network, value) => {
    if (!value) return;
    const cls = 'username';
    if (usernames) h.add({ kind: 'username', scope: network, value: value.replace(/^(x|wa):/, ''), trust: 'asserted' }, `username:${network}:${value}`, cls);
    h.traits.add('username');
    if (reused.has(value)) h.traits.add('username-changed-hands');
  };

  /** One episode on one channel: 1-4 messages, each a delivery. Returns [{ at, input, h }]. */
  function episode(p, channel, t) {
    const msgs = [];
    const push = (at, h, { name, ...input }) => msgs.push({ at, h, input: { ...input, from: { handles: h.handles, ...(name ? { name } : {}) }, sentAt: at } });
    const text = (long) => messageText(r, true, long);
    if (channel === 'webchat') {
      const site = r() < 0.8 ? BRAND.sites[0] : BRAND.sites[1];
      const device = r.int(0, p.devices - 1);
      const visitor = (p.visitors[`${device}:${site}`] ??= V.ids.visitorId(r));
      const signedIn = p.account && r() < 0.6;
      const form = signedIn ? r() < 0.25 : r() < 0.45;
      const wantsEmail = !signedIn && r() < 0.75;
      const wantsPhone = signedIn || r() < 0.45;
      const n = 1 + (r() < 0.5) + (r() < 0.25);
      for (let k = 0; k < n; k++) {
        const h = handleList();
        h.add({ kind: 'webchat_visitor', scope: site, value: visitor, trust: 'channel' }, `webchat_visitor:${site}:${visitor}`, 'personal');
        // As shared/channels/webchat.ts: the shop signs the account id (the email sent along stays asserted),
        // the help centre signs the email.
        if (signedIn) {
          h.traits.add('verified-session');
          const shop = site === BRAND.sites[0];
          if (shop) h.add({ kind: 'account', value: p.account, trust: 'verified' }, `account:${p.account}`, 'personal');
          h.add({ kind: 'email', value: p.accountEmail, trust: shop ? 'asserted' : 'verified' }, `email:${p.accountEmail}`, 'personal');
          if (p.accountEmail !== (p.privateEmail ?? p.workEmail)) h.traits.add('gmail-variant');
        }
        // The pre-chat form comes with the first message: typed, so `asserted`, unless the session is signed in.
        if (k === 0 && form) {
          if (wantsEmail) typedEmail(p, h, signedIn ? 'channel' : 'asserted');
          if (wantsPhone) typedPhone(p, h, signedIn ? 'channel' : 'asserted');
          if (signedIn && h.truth.some((x) => x.cls === 'placeholder')) h.traits.add('placeholder-in-verified-session');
        }
        const id = V.ids.webchatMessageId(r);
        push(t + k * r.int(1, 4) * MIN, h, { channel, channelAccount: site, providerMessageId: `${visitor}:${id}`, threadKey: `webchat:${site}:${visitor}`, text: text(false), name: signedIn ? p.name : undefined });
      }
    } else if (channel === 'email') {
      const persona = p.roleMailbox && r() < 0.5 ? 'role' : p.workEmail && (r() < 0.6 || !p.privateEmail) ? 'work' : 'private';
      const from = persona === 'role' ? p.roleMailbox : persona === 'work' ? p.workEmail : p.secondEmail && r() < 0.3 ? p.secondEmail : p.privateEmail;
      const mailbox = r() < 0.75 ? BRAND.mailboxes[0] : BRAND.mailboxes[1];
      const n = 1 + (r() < 0.35) + (r() < 0.1);
      let root;
      for (let k = 0; k < n; k++) {
        const h = handleList();
        h.add({ kind: 'email', value: r() < 0.03 ? from[0].toUpperCase() + from.slice(1) : from, trust: 'channel' }, `email:${from}`, persona === 'role' ? 'role' : 'personal');
        if (persona === 'role') h.traits.add('role-mailbox');
        if (from === p.secondEmail || (persona === 'work' && p.privateEmail) || (persona === 'private' && p.workEmail)) h.traits.add('second-email');
        // A phone number found in the signature: what the customer wrote, so `asserted`.
        if (p.signature[persona === 'private' ? 'private' : 'work'] && (p.mobile || p.landline)) {
          typedPhone({ ...p, placeholderRate: 0, teen: false }, h, 'asserted');
          h.traits.add('signature-phone');
        }
        const id = V.ids.emailMessageId(r, from);
        root ??= id;
        push(t + k * r.int(30, 2880) * MIN, h, { channel, channelAccount: mailbox, providerMessageId: id, threadKey: root, text: text(true), name: persona === 'role' && r() < 0.5 ? from.split('@')[1].split('.')[0] : p.name });
      }
    } else if (channel === 'whatsapp') {
      const owner = p.teen ? p.parentLine : p; // the account the message comes from
      const waId = owner.mobile && V.waIdOf(owner.mobile, owner.legacyBrazil);
      const cls = p.teen || owner.mobileShared ? 'shared-mobile' : 'personal';
      const n = 1 + (r() < 0.55) + (r() < 0.3) + (r() < 0.1);
      for (let k = 0; k < n; k++) {
        const h = handleList();
        if (!owner.bsuidOnly && waId) {
          h.add({ kind: 'phone', value: waId, trust: 'channel' }, phoneKey(owner.mobile), cls);
          h.add({ kind: 'whatsapp_id', scope: BRAND.waba, value: waId, trust: 'channel' }, `whatsapp_id:${BRAND.waba}:${waId}`, cls);
          if (owner.legacyBrazil) h.traits.add('br-wa-12-digit');
        } else h.traits.add('bsuid-only');
        h.add({ kind: 'whatsapp_bsuid', scope: BRAND.waba, value: owner.bsuid, trust: 'channel' }, `whatsapp_bsuid:${BRAND.waba}:${owner.bsuid}`, cls);
        username(h, 'whatsapp', owner.waUsername);
        if (cls === 'shared-mobile') h.traits.add(p.teen ? 'shared-mobile-teen' : 'shared-mobile-parent');
        push(t + k * r.int(1, 30) * MIN, h, {
          channel, channelAccount: BRAND.phoneNumberId, providerMessageId: V.ids.wamid(r, waId ?? owner.bsuid), threadKey: waId ?? owner.bsuid, text: text(false),
          name: r() < 0.7 ? owner.first : owner.name,
        });
      }
    } else if (channel === 'sms' || channel === 'voice') {
      const line = channel === 'voice' && p.landline && (r() < 0.6 || !p.mobile) ? p.landline : p.mobile;
      const n = channel === 'sms' ? 1 + (r() < 0.4) : 1;
      for (let k = 0; k < n; k++) {
        const h = handleList();
        const cls = lineClass(p, line);
        h.add({ kind: 'phone', value: line.e164, trust: 'channel' }, phoneKey(line), cls);
        if (cls === 'landline') h.traits.add('landline-call');
        if (cls === 'shared-mobile') h.traits.add('shared-mobile-parent');
        if (p.legacyBrazil && line === p.mobile) h.traits.add('br-13-digit');
        const to = p.country === 'US' ? BRAND.twilio.US : BRAND.twilio.other;
        const call = channel === 'voice';
        push(t + k * r.int(2, 20) * MIN, h, {
          channel, channelAccount: to, providerMessageId: V.ids.twilioSid(r, call ? 'CA' : 'SM'), ...(call ? { kind: 'call' } : {}), threadKey: line.e164,
          text: call ? `Inbound call, ${r.int(0, 14)} min ${r.int(1, 59)} s` : text(false),
        });
      }
    } else if (channel === 'telegram') {
      const bot = r() < 0.8 ? BRAND.bots[0] : BRAND.bots[1];
      const n = 1 + (r() < 0.5) + (r() < 0.2);
      for (let k = 0; k < n; k++) {
        const h = handleList();
        h.add({ kind: 'telegram_user', scope: bot, value: p.telegramId, trust: 'channel' }, `telegram_user:${bot}:${p.telegramId}`, 'personal');
        const at = t + k * r.int(1, 10) * MIN;
        username(h, 'telegram', p.telegramUsername && usernameAt(p.telegramUsername, at));
        const seq = (telegramSeq.get(`${bot}:${p.telegramId}`) ?? r.int(1, 40)) + 1;
        telegramSeq.set(`${bot}:${p.telegramId}`, seq);
        push(at, h, { channel, channelAccount: bot, providerMessageId: `${p.telegramId}:${seq}`, threadKey: `${bot}:${p.telegramId}`, text: text(false), name: r() < 0.5 ? p.first : p.name });
      }
    } else if (channel === 'messenger') {
      const page = r() < 0.75 ? BRAND.pages[0] : BRAND.pages[1];
      const psid = (p.psids[page] ??= V.unique(psids, () => V.idDigits(r, r.int(16, 17))));
      const n = 1 + (r() < 0.45) + (r() < 0.15);
      for (let k = 0; k < n; k++) {
        const h = handleList();
        h.add({ kind: 'messenger_psid', scope: page, value: psid, trust: 'channel' }, `messenger_psid:${page}:${psid}`, 'personal');
        push(t + k * r.int(1, 15) * MIN, h, { channel, channelAccount: page, providerMessageId: V.ids.messengerMid(r), threadKey: `${page}:${psid}`, text: text(false), name: p.name });
      }
    } else if (channel === 'x') {
      const n = 1 + (r() < 0.4);
      for (let k = 0; k < n; k++) {
        const h = handleList();
        h.add({ kind: 'x_user', scope: BRAND.xAccount, value: p.xId, trust: 'channel' }, `x_user:${BRAND.xAccount}:${p.xId}`, 'personal');
        const at = t + k * r.int(1, 30) * MIN;
        username(h, 'x', usernameAt(p.xUsername, at));
        const [a, b] = BigInt(p.xId) <= BigInt(BRAND.xAccount) ? [p.xId, BRAND.xAccount] : [BRAND.xAccount, p.xId];
        push(at, h, { channel, channelAccount: BRAND.xAccount, providerMessageId: V.ids.xEventId(r), threadKey: `${a}-${b}`, text: text(false), name: p.name });
      }
    }
    return msgs;
  }

  for (const p of people) {
    // Which channels this person uses: one for about a third of people, four or more for one in seven.
    const feasible = CHANNELS.map((ch) =>
      ch === 'email' ? !!(p.privateEmail || p.workEmail) : ch === 'whatsapp' ? !!(p.mobile || p.teen) : ch === 'sms' ? !!p.mobile : ch === 'voice' ? !!(p.mobile || p.landline) : true,
    );
    const k = weighted(r, [1, 2, 3, 4, 5, 6], [35, 30, 20, 9, 4, 2]);
    const chosen = [];
    // A household with a fixed line phones us from it more often than others phone at all.
    const w = WEIGHTS[p.country].map((x, i) => (feasible[i] ? x : 0) * (CHANNELS[i] === 'voice' && p.landline ? 3 : 1));
    while (chosen.length < k && w.some((x) => x > 0)) {
      const ch = weighted(r, CHANNELS, w);
      chosen.push(ch);
      w[CHANNELS.indexOf(ch)] = 0;
    }
    let episodes = 1;
    while (episodes < 15 && r() < 0.55) episodes++;
    episodes = Math.max(episodes, chosen.length);
    const first = START + r() * (SPAN - 10 * DAY);
    const times = [first, ...Array.from({ length: episodes - 1 }, () => first + r() * (START + SPAN - first))].sort((a, b) => a - b);
    if (chosen.length === 1) p.traits.add('one-channel-person');
    if (chosen.length >= 4) p.traits.add('many-channel-person');
    if ((p.workEmail && p.privateEmail) || p.secondEmail) p.traits.add('two-email-person');
    times.forEach((t, i) => {
      const channel = i < chosen.length ? chosen[i] : weighted(r, chosen, chosen.map((ch) => WEIGHTS[p.country][CHANNELS.indexOf(ch)]));
      for (const m of episode(p, channel, Math.round(t))) {
        const latency = channel === 'email' ? r.int(2_000, 60_000) : r.int(200, 3_000);
        out.push({ personId: p.id, input: m.input, traits: [...new Set([...m.h.traits, ...p.traits])], truth: m.h.truth, at: m.at + latency, original: -1 });
      }
    });
  }
  return out;
}

/** Providers deliver at least once: about 7% of messages arrive again, seconds to an hour later. */
function addRedeliveries(r, deliveries) {
  const extra = [];
  deliveries.forEach((d, i) => {
    if (r() >= 0.07) return;
    const delay = d.input.channel === 'email' ? r.int(5, 60) * MIN : d.input.channel === 'webchat' ? r.int(2_000, 30_000) : r.int(20_000, 20 * MIN);
    extra.push({ personId: d.personId, input: structuredClone(d.input), traits: ['redelivery'], truth: d.truth, at: d.at + delay, original: i, first: d });
  });
  const all = deliveries.concat(extra).map((d, i) => ({ d, i }));
  all.sort((a, b) => a.d.at - b.d.at || a.i - b.i);
  const order = new Map(all.map(({ d }, i) => [d, i]));
  return all.map(({ d }) => {
    if (d.first) {
      d.original = order.get(d.first);
      delete d.first;
    }
    return d;
  });
}

/**
 * The data set for a seed. `usernames` defaults to whether the core knows the `username` handle kind.
 * Throws if two first deliveries share an idempotency key: that would be a flaw of the generator.
 */
function generate({ people: count = 20_000, seed = 20260601, usernames = HANDLE_KINDS.includes('username') } = {}) {
  const r = rng(seed);
  const { people, taken } = makePeople(r, count);
  const reused = reuseUsernames(r, people);
  const deliveries = addRedeliveries(r, makeDeliveries(r, people, { usernames, reused, taken }));
  const keys = new Set();
  for (const d of deliveries) {
    if (d.original >= 0) continue;
    const key = `${d.input.channel}\n${d.input.channelAccount}\n${d.input.providerMessageId}`;
    if (keys.has(key)) throw new Error(`generator made two messages with one idempotency key: ${key}`);
    keys.add(key);
  }
  return {
    config: { people: count, seed, usernames, start: new Date(START).toISOString(), days: SPAN / DAY, brand: BRAND },
    people: people.map((p) => ({ id: p.id, name: p.name, country: p.country, traits: [...p.traits] })),
    deliveries,
  };
}

module.exports = { generate, START, SPAN, BRAND, DEFAULT_COUNTRY };

if (require.main === module) {
  // `node bench/identity/generate.js [people] [seed]`: a summary of the data set, no ingest.
  const { deliveries, people } = generate({ people: Number(process.argv[2] || 2000), seed: Number(process.argv[3] || 20260601) });
  const count = (f) => deliveries.reduce((m, d) => (f(d).forEach((k) => m.set(k, (m.get(k) ?? 0) + 1)), m), new Map());
  console.log(`${people.length} people, ${deliveries.length} deliveries`);
  console.log('channels', Object.fromEntries(count((d) => [d.input.channel])));
  console.log('traits', Object.fromEntries([...count((d) => d.traits)].sort((a, b) => b[1] - a[1])));
  console.log(JSON.stringify(deliveries.slice(0, 3), null, 1));
}
