'use strict';
/**
 * The synthetic customers of the identity benchmark: who they are, what values they own, and which
 * values they share with others on purpose (a family landline, a parent's mobile, a company's role
 * mailbox, a username that changes hands). generate.js turns them into deliveries.
 */
const V = require('./values');

const DAY = 86_400_000;
/** 1 June 2026: WhatsApp sends business-scoped user ids (BSUIDs) with every message since April 2026. */
const START = Date.UTC(2026, 5, 1);
const SPAN = 90 * DAY;

/** One of items, drawn with the given weights. */
function weighted(r, items, weights) {
  const total = weights.reduce((s, w) => s + w, 0);
  let x = r() * total;
  for (let i = 0; i < items.length; i++) if ((x -= weights[i]) < 0) return items[i];
  return items[items.length - 1];
}

/** People: families (a shared landline, sometimes a teenager on a parent's mobile) and office workers. */
function makePeople(r, count) {
  const countries = Object.keys(V.COUNTRIES);
  const taken = { emails: new Set(), domains: new Set(), phones: new Set(), ids: new Set(), usernames: new Set() };
  const companies = {};
  const people = [];
  const newLine = (country, type) => {
    const c = V.COUNTRIES[country];
    return V.unique(taken.phones, () => V.line(country, type === 'mobile' ? c.mobile(r) : c.landline(r), type), (l) => l.e164);
  };
  while (people.length < count) {
    // One in 22 starts a family of 2-4 (about 12% of people live in one): same country, same surname.
    const size = r() < 0.045 ? Math.min(r.int(2, 4), count - people.length) : 1;
    const country = weighted(r, countries, countries.map((k) => V.COUNTRIES[k].weight));
    const c = V.COUNTRIES[country];
    const last = r.pick(c.last);
    const family = size > 1 ? { landline: r() < 0.75 ? newLine(country, 'landline') : null, members: [] } : null;
    const teen = size > 1 && r() < 0.35;
    for (let m = 0; m < size; m++) {
      const p = { id: people.length, country, first: r.pick(c.first), last: size > 1 ? last : r.pick(c.last), family, traits: new Set() };
      p.name = `${p.first} ${p.last}`;
      p.teen = teen && m === size - 1;
      p.landline = family?.landline ?? null;
      // A teenager writes on WhatsApp from a parent's phone; some family members have no mobile at all.
      p.mobile = p.teen || (family && r() < 0.15) || r() < 0.04 ? null : newLine(country, 'mobile');
      p.legacyBrazil = country === 'BR' && r() < 0.4; // a WhatsApp account older than Brazil's ninth digit
      p.privateEmail = r() < (p.teen ? 0.7 : 0.9) ? V.personalEmail(r, taken.emails, p.first, p.last, r.pick(c.emailDomains)) : null;
      // Office workers: a work address at their company's domain; some also write from its role mailboxes.
      if (!p.teen && r() < 0.2) {
        let co = companies[country];
        if (!co || co.staff >= co.size) {
          const domain = V.companyDomain(r, taken.domains, country);
          const roles = [...V.ROLE_MAILBOXES].sort(() => r() - 0.5).slice(0, r.int(1, 3));
          co = companies[country] = { domain, size: r.int(3, 25), staff: 0, roles: roles.map((x) => `${x}@${domain}`) };
        }
        co.staff++;
        const [f, l] = [V.ascii(p.first), V.ascii(p.last)];
        p.workEmail = V.unique(taken.emails, (a) => `${[`${f}.${l}`, `${f[0]}.${l}`, `${f}`, `${f}.${l[0]}`][a] ?? `${f}.${l}${a}`}@${co.domain}`, V.mailbox);
        p.roleMailbox = r() < 0.45 ? r.pick(co.roles) : null;
      }
      p.secondEmail = !p.workEmail && p.privateEmail && r() < 0.05 ? V.personalEmail(r, taken.emails, p.first, p.last, r.pick(c.emailDomains)) : null;
      p.account = r() < 0.45 && (p.privateEmail || p.workEmail) ? V.unique(taken.ids, () => V.ids.account(r)) : null;
      const accountEmail = p.privateEmail ?? p.workEmail;
      p.accountEmail = accountEmail?.endsWith('@gmail.com') && r() < 0.15 ? V.gmailVariant(r, accountEmail) : accountEmail;
      p.devices = r.int(1, 3);
      p.visitors = {};
      p.telegramId = V.unique(taken.ids, () => V.idDigits(r, r() < 0.3 ? 9 : 10));
      p.telegramUsername = r() < 0.6 ? [[0, V.unique(taken.usernames, () => `${V.ascii(p.first)}${r.pick(['_', '', '.'])}${V.ascii(p.last)}${r() < 0.6 ? r.int(1, 999) : ''}`.replace('.', '_'))]] : null;
      p.xId = V.unique(taken.ids, () => V.idDigits(r, r() < 0.6 ? 19 : r.int(8, 10)));
      p.xUsername = [[0, V.unique(taken.usernames, () => `x:${V.ascii(p.first)[0]}${V.ascii(p.last)}${r.int(1, 9999)}`)]];
      p.psids = {};
      p.bsuid = V.unique(taken.ids, () => V.ids.bsuid(r, country));
      p.bsuidOnly = r() < 0.08; // a WhatsApp username hides the phone: the business sees the BSUID alone
      p.waUsername = p.bsuidOnly || r() < 0.15 ? V.unique(taken.usernames, () => `wa:${V.ascii(p.first)}.${V.ascii(p.last)}${r.int(1, 99)}`) : null;
      p.phoneStyle = country === 'GB' ? r.pick(['national', 'national', 'compact', 'intl']) : r.pick(['intl', 'intl', 'e164', 'national']);
      p.placeholderRate = r() < 0.08 ? 0.6 : 0.02; // some people never give real details to a form
      p.signature = { work: r() < 0.6, private: r() < 0.15 };
      family?.members.push(p);
      people.push(p);
    }
  }
  for (const f of new Set(people.map((p) => p.family).filter(Boolean))) {
    const teen = f.members.find((p) => p.teen);
    const parent = f.members.find((p) => !p.teen && p.mobile);
    if (teen && parent) {
      teen.parentLine = parent;
      parent.mobileShared = true;
    } else if (teen) teen.teen = false;
  }
  return { people, taken };
}

/**
 * About 2% of Telegram and X usernames change hands: the old holder renames, someone else takes the name.
 * Returns the names that had two holders.
 */
function reuseUsernames(r, people) {
  const reused = new Set();
  for (const field of ['telegramUsername', 'xUsername']) {
    const holders = people.filter((p) => p[field]);
    const half = Math.floor(holders.length / 2);
    for (let i = 0; i < half; i++) {
      if (r() >= 0.02) continue;
      const [a, b] = [holders[i], holders[i + half]];
      const when = START + r.int(20, 70) * DAY;
      const name = a[field][0][1];
      a[field].push([when, `${name}_${r.int(10, 99)}`]);
      b[field].push([when, name]);
      reused.add(name);
    }
  }
  return reused;
}

module.exports = { makePeople, reuseUsernames, weighted, DAY, START, SPAN };
