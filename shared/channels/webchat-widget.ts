/**
 * The web chat widget and its demo page, as the trigger serves them on its own URL (see webchat.ts):
 * one script, no dependencies, no CDN, that posts the visitor's messages to the endpoint it was loaded
 * from and polls the visitor's feed. Everything put into the script or the page is escaped for its place.
 */
import { OmnithreadError } from '../errors';

export interface WidgetOptions {
  /** Where the widget POSTs messages (the trigger's POST webhook URL). */
  endpoint: string;
  /** Where it polls for replies (GET, with ?siteId=&visitorId=&after=); default: the endpoint. */
  repliesUrl?: string;
  siteId?: string;
  title?: string;
  greeting?: string;
  pollSeconds?: number;
  color?: string;
}

/** JSON that is also safe inside an HTML <script> element and a JS string (no </script>, no U+2028). */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function widgetConfig(options: WidgetOptions) {
  if (typeof options.endpoint !== 'string' || !options.endpoint) throw new OmnithreadError('INVALID_INPUT', 'The widget needs the endpoint URL', { field: 'endpoint' });
  const color = options.color && /^#[0-9a-fA-F]{3,8}$/.test(options.color) ? options.color : '#2b59c3';
  return {
    endpoint: options.endpoint,
    repliesUrl: options.repliesUrl ?? options.endpoint,
    siteId: options.siteId ?? 'default',
    title: options.title ?? 'Chat with us',
    greeting: options.greeting ?? 'Hi! How can we help?',
    pollMs: Math.max(1, Math.min(60, options.pollSeconds ?? 3)) * 1000,
    color,
  };
}

const WIDGET_SOURCE = String.raw`(function () {
  'use strict';
  var C = __CONFIG__;
  if (typeof window === 'undefined' || typeof document === 'undefined') return;
  var flag = '__omnithreadChat_' + C.siteId;
  if (window[flag]) return;
  window[flag] = true;
  var KEY = 'omnithread-chat:' + C.siteId;
  function rid() {
    var a = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(a);
    var s = '';
    for (var i = 0; i < a.length; i++) s += ('0' + a[i].toString(16)).slice(-2);
    return s;
  }
  var visitorId = null;
  try { visitorId = window.localStorage.getItem(KEY); } catch (e) {}
  if (!visitorId || !/^[A-Za-z0-9._:-]{1,128}$/.test(visitorId)) {
    visitorId = 'v-' + rid();
    try { window.localStorage.setItem(KEY, visitorId); } catch (e) {}
  }
  var cursor = null, seen = {}, local = {}, polling = false;

  function el(tag, css, text) {
    var n = document.createElement(tag);
    if (css) n.style.cssText = css;
    if (text) n.textContent = text;
    return n;
  }
  // A column aligned to the right edge: the panel above, the launcher button below it, both on the right.
  var root = el('div', 'position:fixed;right:20px;bottom:20px;z-index:2147483000;font:14px/1.4 system-ui,sans-serif;display:flex;flex-direction:column;align-items:flex-end');
  root.setAttribute('data-omnithread-chat', C.siteId);
  var button = el('button', 'background:' + C.color + ';color:#fff;border:0;border-radius:24px;padding:12px 18px;cursor:pointer;box-shadow:0 2px 8px rgba(0,0,0,.25)', C.title);
  button.type = 'button';
  button.setAttribute('aria-expanded', 'false');
  var panel = el('div', 'display:none;flex-direction:column;width:320px;height:420px;background:#fff;border:1px solid #ccd;border-radius:10px;box-shadow:0 4px 16px rgba(0,0,0,.2);overflow:hidden;margin-bottom:10px');
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('aria-label', C.title);
  var head = el('div', 'background:' + C.color + ';color:#fff;padding:10px 12px;font-weight:600', C.title);
  var status = el('div', 'display:none;font-size:12px;color:#667;padding:4px 12px;border-bottom:1px solid #eee', '');
  status.setAttribute('data-omnithread-identity', '');
  var list = el('div', 'flex:1;overflow-y:auto;padding:10px 12px');
  list.setAttribute('aria-live', 'polite');
  list.setAttribute('data-omnithread-messages', '');
  var form = el('form', 'display:flex;border-top:1px solid #eee');
  var input = el('input', 'flex:1;border:0;padding:12px;font:inherit;outline:none');
  input.type = 'text';
  input.placeholder = 'Write a message';
  input.setAttribute('aria-label', 'Message');
  input.maxLength = 10000;
  var send = el('button', 'border:0;background:none;color:' + C.color + ';font-weight:600;padding:0 14px;cursor:pointer', 'Send');
  send.type = 'submit';
  form.appendChild(input);
  form.appendChild(send);
  panel.appendChild(head);
  panel.appendChild(status);
  panel.appendChild(list);
  panel.appendChild(form);
  root.appendChild(panel);
  root.appendChild(button);
  list.appendChild(el('div', 'color:#667;margin:4px 0 10px', C.greeting));

  function bubble(direction, text, author) {
    var out = direction === 'outbound';
    var row = el('div', 'display:flex;margin:6px 0;justify-content:' + (out ? 'flex-start' : 'flex-end'));
    var b = el('div', 'max-width:80%;padding:8px 10px;border-radius:10px;white-space:pre-wrap;word-wrap:break-word;' +
      (out ? 'background:#f0f2f7;color:#111' : 'background:' + C.color + ';color:#fff'));
    if (out && author && author.name) b.appendChild(el('div', 'font-size:11px;color:#667;margin-bottom:2px', author.name));
    b.appendChild(el('span', '', text));
    b.setAttribute('data-direction', direction);
    row.appendChild(b);
    list.appendChild(row);
    list.scrollTop = list.scrollHeight;
    return b;
  }
  function show(m) {
    if (seen[m.id]) return;
    seen[m.id] = true;
    if (m.messageId && local[m.messageId]) { local[m.messageId].style.opacity = '1'; return; }
    bubble(m.direction, m.text, m.author);
  }
  function identity(kind, reason) {
    status.textContent = kind === 'verified' ? 'Signed in: verified' : kind === 'unverified' ? 'Identity not verified' + (reason ? ' (' + reason + ')' : '') : '';
    status.style.display = status.textContent ? 'block' : 'none'; // no empty line for anonymous visitors
    status.setAttribute('data-omnithread-identity', kind || '');
  }
  function query() {
    var sep = C.repliesUrl.indexOf('?') < 0 ? '?' : '&';
    return C.repliesUrl + sep + 'siteId=' + encodeURIComponent(C.siteId) + '&visitorId=' + encodeURIComponent(visitorId) +
      (cursor ? '&after=' + encodeURIComponent(cursor) : '');
  }
  function poll() {
    if (polling) return;
    polling = true;
    fetch(query(), { headers: { accept: 'application/json' }, credentials: 'omit' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        polling = false;
        if (!data || !data.messages) return;
        for (var i = 0; i < data.messages.length; i++) show(data.messages[i]);
        if (data.cursor) cursor = data.cursor;
        if (data.more) poll();
      }, function () { polling = false; });
  }
  function user() {
    var given = window.OmnithreadChat && window.OmnithreadChat.user, out = {}, keys = ['email', 'accountId', 'name', 'userHash'], any = false;
    if (!given || typeof given !== 'object') return undefined;
    for (var i = 0; i < keys.length; i++) {
      var v = given[keys[i]];
      if (typeof v === 'string' && v) { out[keys[i]] = v; any = true; }
    }
    return any ? out : undefined;
  }
  function post(body, b, attempt) {
    fetch(C.endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), credentials: 'omit' })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, status: r.status, body: j }; }); })
      .then(function (res) {
        if (res.ok) { b.style.opacity = '1'; identity(res.body.identity, res.body.identityReason); setTimeout(poll, 300); }
        else if (res.status >= 500 && attempt < 4) setTimeout(function () { post(body, b, attempt + 1); }, 1000 * attempt);
        else { b.style.opacity = '0.5'; b.title = (res.body && res.body.error) || 'Not sent'; }
      }, function () {
        if (attempt < 4) setTimeout(function () { post(body, b, attempt + 1); }, 1000 * attempt);
        else { b.style.opacity = '0.5'; b.title = 'Not sent: network error'; }
      });
  }
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    var text = input.value;
    if (!text.replace(/\s+/g, '')) return;
    input.value = '';
    var messageId = 'm-' + rid();
    var b = bubble('inbound', text);
    b.style.opacity = '0.6';
    local[messageId] = b;
    var body = { siteId: C.siteId, visitorId: visitorId, messageId: messageId, text: text,
      page: { url: String(location.href).slice(0, 2000), title: String(document.title).slice(0, 500) } };
    var u = user();
    if (u) body.user = u;
    post(body, b, 1);
  });
  button.addEventListener('click', function () {
    var open = panel.style.display !== 'flex';
    panel.style.display = open ? 'flex' : 'none';
    button.setAttribute('aria-expanded', String(open));
    if (open) { input.focus(); poll(); }
  });
  function start() { document.body.appendChild(root); poll(); setInterval(function () { if (!document.hidden) poll(); }, C.pollMs); }
  if (document.body) start(); else document.addEventListener('DOMContentLoaded', start);
})();
`;

/** The embeddable widget: one self-contained script, no build step, no external resources. */
export function widgetScript(options: WidgetOptions): string {
  return WIDGET_SOURCE.replace('__CONFIG__', () => scriptSafeJson(widgetConfig(options)));
}

/**
 * A demo page that embeds the widget with one <script> tag: `src` when the widget is served at a URL
 * (scriptUrl), else the script inline.
 */
export function demoPage(options: WidgetOptions & { scriptUrl?: string; pageTitle?: string }): string {
  const title = escapeHtml(options.pageTitle ?? 'Omnithread web chat demo');
  const tag = options.scriptUrl
    ? `<script src="${escapeHtml(options.scriptUrl)}" defer></script>`
    : `<script>\n${widgetScript(options)}</script>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
</head>
<body style="font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;color:#222">
<h1>${title}</h1>
<p>This page embeds the Omnithread web chat widget with one script tag. Open the chat at the bottom right and send a message.</p>
${tag}
</body>
</html>
`;
}
