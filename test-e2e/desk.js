// The desk as a user meets it in a real n8n and a real Node-RED, after the email and web chat story: the
// page and its bundled script are served under the strict CSP, nothing is readable without a session, the
// admin of the node's settings signs in, and the inbox lists the person the story made.
const DESK_ADMIN = { agentId: 'admin', password: 'e2e-desk-admin-password' };

async function deskCheck({ engine, record, deskUrl }) {
  const problems = [];
  const origin = new URL(deskUrl).origin;
  const page = await fetch(deskUrl);
  const html = await page.text();
  if (page.status !== 200 || !/text\/html/.test(page.headers.get('content-type') ?? '')) problems.push(`page: ${page.status} ${page.headers.get('content-type')}`);
  if (!/script-src 'self'/.test(page.headers.get('content-security-policy') ?? '')) problems.push(`page CSP: ${page.headers.get('content-security-policy')}`);
  const script = /src="(\?asset=[^"]+)"/.exec(html)?.[1];
  const asset = script ? await fetch(`${deskUrl}${script.replace(/&amp;/g, '&')}`) : undefined;
  if (!asset || asset.status !== 200 || !/javascript/.test(asset.headers.get('content-type') ?? '') || (await asset.arrayBuffer()).byteLength < 10_000) {
    problems.push(`script ${script}: ${asset?.status} ${asset?.headers.get('content-type')}`);
  }
  const anonymous = await fetch(`${deskUrl}?op=inbox&queue=open`);
  if (anonymous.status !== 401) problems.push(`inbox without a session: ${anonymous.status}`);
  const forged = await fetch(`${deskUrl}?op=signin`, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://evil.example' }, body: JSON.stringify(DESK_ADMIN) });
  if (forged.status !== 403) problems.push(`sign-in from another site: ${forged.status}`);
  const signin = await fetch(`${deskUrl}?op=signin`, { method: 'POST', headers: { 'content-type': 'application/json', origin }, body: JSON.stringify(DESK_ADMIN) });
  const cookie = (signin.headers.get('set-cookie') ?? '').split(';')[0];
  const me = await signin.json().catch(() => ({}));
  if (signin.status !== 200 || !cookie.startsWith('omnithread_desk=') || me.agent?.role !== 'admin') problems.push(`sign-in: ${signin.status} ${JSON.stringify(me).slice(0, 300)}`);
  const inbox = await (await fetch(`${deskUrl}?op=inbox&queue=open`, { headers: { cookie } })).json().catch((e) => ({ error: e.message }));
  const person = inbox.items?.find((i) => (i.channels ?? []).includes('webchat'));
  if (!person) problems.push(`inbox: no web chat person in ${JSON.stringify(inbox).slice(0, 400)}`);
  else {
    const view = await (await fetch(`${deskUrl}?op=person&contactId=${encodeURIComponent(person.contactId)}`, { headers: { cookie } })).json();
    const kinds = (view.episodes ?? []).flatMap((e) => e.events.map((ev) => `${ev.kind}:${ev.channel}`));
    if (!kinds.includes('message:webchat')) problems.push(`person: ${JSON.stringify(kinds).slice(0, 300)}`);
  }
  const noCsrf = await fetch(`${deskUrl}?op=note`, { method: 'POST', headers: { 'content-type': 'application/json', origin, cookie }, body: JSON.stringify({ contactId: person?.contactId ?? 'x', text: 'x', clientId: 'e2e-note-0001' }) });
  if (noCsrf.status !== 403) problems.push(`note without the CSRF token: ${noCsrf.status}`);
  // Live updates by long polling, through the engine's HTTP server (an n8n webhook holds the request):
  // a wait with nothing new answers at its end; a note written meanwhile ends it early, naming the person.
  if (person && me.csrf) {
    const { seq } = await (await fetch(`${deskUrl}?op=changes&since=0`, { headers: { cookie } })).json();
    const quiet = Date.now();
    const idle = await fetch(`${deskUrl}?op=changes&since=${seq}&wait=2`, { headers: { cookie } });
    const idleMs = Date.now() - quiet;
    if (idle.status !== 200 || idleMs < 1500) problems.push(`an idle long poll answered ${idle.status} after ${idleMs} ms`);
    const started = Date.now();
    const waiting = fetch(`${deskUrl}?op=changes&since=${seq}&wait=20`, { headers: { cookie } }).then((r) => r.json());
    await new Promise((resolve) => setTimeout(resolve, 500));
    const note = await fetch(`${deskUrl}?op=note`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin, cookie, 'x-omnithread-csrf': me.csrf },
      body: JSON.stringify({ contactId: person.contactId, text: 'e2e: checked the courier', clientId: `e2e-note-${engine}` }),
    });
    const changed = await waiting;
    const ms = Date.now() - started;
    if (note.status !== 200 || !changed.contactIds?.includes(person.contactId) || ms > 10_000) problems.push(`a note during a long poll: note ${note.status}, changes ${JSON.stringify(changed)} after ${ms} ms`);
  }
  record(`${engine}: the desk serves its page and script, refuses strangers and other sites, signs the node's admin in, shows the story's person, and long-polls changes`, problems);
}

module.exports = { deskCheck, DESK_ADMIN };
