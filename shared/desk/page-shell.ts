/**
 * The desk page's HTML shell: a minimal document that loads the bundled stylesheet and script built by
 * scripts/build-desk.js into dist/desk/ (app.js, app.css, manifest.json). Everything else is drawn by the
 * script. No inline script and no inline style, so it runs under the desk's strict Content-Security-Policy
 * (script-src 'self'). The asset URLs are relative (e.g. `?asset=app.<hash>.js`): the desk is served at
 * an arbitrary path (/webhook/desk, /omnithread/desk ...) and the page calls its API on that same path.
 *
 * Plain TypeScript for Node (no DOM types): part of the package's build.
 */

export interface DeskHtmlOptions {
  /** The document title, e.g. "Omnithread Desk". */
  title: string;
  /** URL of the bundled script, e.g. `?asset=app.1a2b3c4d5e6f.js`. */
  scriptUrl: string;
  /** URL of the bundled stylesheet, e.g. `?asset=app.0f9e8d7c6b5a.css`. */
  cssUrl: string;
  /** A CSP nonce to put on the script and stylesheet tags, when the server's policy uses one. */
  nonce?: string;
}

/** One file of dist/desk/manifest.json (written by scripts/build-desk.js). */
export interface DeskManifestFile {
  /** The file in dist/desk/, e.g. "app.js". */
  file: string;
  /** sha256 of the file's bytes, first 12 hex digits. */
  hash: string;
  /** The hashed name to serve it under with long cache headers, e.g. "app.1a2b3c4d5e6f.js". */
  name: string;
  bytes: number;
  contentType: string;
}

/** dist/desk/manifest.json: `files` is keyed by the file name ("app.js", "app.css"). */
export interface DeskManifest {
  version: 1;
  files: Record<string, DeskManifestFile>;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for an HTML text node or a double-quoted attribute value. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** The asset URLs for deskHtml from the manifest: `<base>?asset=<hashed name>` (base '' = the page's own path). */
export function deskAssetUrls(manifest: DeskManifest, base = ''): { scriptUrl: string; cssUrl: string } {
  const script = manifest.files['app.js'];
  const css = manifest.files['app.css'];
  if (!script || !css) throw new Error('the desk manifest lists no app.js or app.css: run npm run build');
  return { scriptUrl: `${base}?asset=${encodeURIComponent(script.name)}`, cssUrl: `${base}?asset=${encodeURIComponent(css.name)}` };
}

/** The desk page: a noscript hint, a mount point, the stylesheet and the deferred script. */
export function deskHtml(opts: DeskHtmlOptions): string {
  const nonce = opts.nonce ? ` nonce="${escapeHtml(opts.nonce)}"` : '';
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    '<meta name="robots" content="noindex, nofollow">',
    `<title>${escapeHtml(opts.title)}</title>`,
    `<link rel="stylesheet" href="${escapeHtml(opts.cssUrl)}"${nonce}>`,
    `<script defer src="${escapeHtml(opts.scriptUrl)}"${nonce}></script>`,
    '</head>',
    '<body>',
    `<div id="desk" data-title="${escapeHtml(opts.title)}"><noscript>The Omnithread Desk needs JavaScript.</noscript></div>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
