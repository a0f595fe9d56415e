/**
 * Every documentation link that points into the README lands on a heading that exists: the n8n codex
 * files' resources (the node panel's "Docs" links), the credentials' documentationUrl (the credential
 * dialog's link), links in the Node-RED editor files, and the README's own `#anchor` links. Anchors are
 * computed as GitHub computes them for headings: lower-case, punctuation dropped, spaces to '-', and a
 * `-1`, `-2` suffix for repeated headings.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '..');
const REPO_URL = 'https://github.com/omnithread/n8n-nodes-omnithread';

/** GitHub's heading anchor: lower-case, drop everything but letters, digits, spaces, '-' and '_', spaces to '-'. */
export function githubSlug(heading: string): string {
  const text = heading
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1') // images: their alt text
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // links: their text
    .replace(/<[^>]+>/g, ''); // inline HTML
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a markdown file's headings (outside code fences), with GitHub's suffixes for repeats. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const open = /^\s{0,3}(```+|~~~+)/.exec(line);
    if (open) {
      if (!fence) fence = open[1][0];
      else if (open[1][0] === fence) fence = undefined;
      continue;
    }
    if (fence) continue;
    const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const slug = githubSlug(heading[1]);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  // Explicit anchors: <a id="x"></a> or <a name="x"></a>.
  for (const m of markdown.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]);
  return anchors;
}

function filesUnder(dir: string, keep: (name: string) => boolean): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path, keep));
    else if (keep(entry)) out.push(path);
  }
  return out;
}

interface Link {
  file: string;
  anchor: string;
}

/** Links to the repository's README (its GitHub page, optionally `/blob/<branch>/README.md`) with an anchor. */
function readmeLinks(file: string, text: string): Link[] {
  const links: Link[] = [];
  const escaped = REPO_URL.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const pattern = new RegExp(`${escaped}(?:/(?:blob|tree)/[^/#\\s"'\`)]+/README\\.md)?#([^\\s"'\`)<>]+)`, 'g');
  for (const m of text.matchAll(pattern)) links.push({ file: relative(ROOT, file), anchor: m[1] });
  return links;
}

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const anchors = headingAnchors(readme);
// `#readme` is GitHub's anchor of the README block on the repository page.
const valid = (anchor: string) => anchor === 'readme' || anchors.has(decodeURIComponent(anchor));

const sources = [
  ...filesUnder(join(ROOT, 'nodes', 'n8n'), (name) => name.endsWith('.node.json') || name.endsWith('.ts')),
  ...filesUnder(join(ROOT, 'credentials'), (name) => name.endsWith('.ts')),
  ...filesUnder(join(ROOT, 'nodes', 'node-red'), (name) => name.endsWith('.html')),
];

describe('documentation links into the README', () => {
  test('GitHub slugs as GitHub computes them', () => {
    expect(githubSlug('Reply (n8n) / `omnithread reply` (Node-RED)')).toBe('reply-n8n--omnithread-reply-node-red');
    expect(githubSlug('Erasure: what is gone and what remains')).toBe('erasure-what-is-gone-and-what-remains');
    expect(githubSlug('First human response time (`firstResponseSeconds`)')).toBe('first-human-response-time-firstresponseseconds');
    expect(githubSlug('Store settings (n8n credential "Omnithread Store API", Node-RED `omnithread-store`)')).toBe('store-settings-n8n-credential-omnithread-store-api-node-red-omnithread-store');
    expect([...headingAnchors('# A\n## A\n```\n# not a heading\n```\n### A\n')]).toEqual(['a', 'a-1', 'a-2']);
  });

  test('every n8n node has docs links in its codex, and every credential a documentationUrl, into the README', () => {
    const codex = sources.filter((f) => f.endsWith('.node.json'));
    expect(codex.length).toBeGreaterThanOrEqual(8);
    for (const file of codex) {
      const resources = (JSON.parse(readFileSync(file, 'utf8')) as { resources?: Record<string, { url: string }[]> }).resources ?? {};
      const urls = Object.values(resources).flat().map((r) => r.url);
      expect({ file: relative(ROOT, file), primary: (resources.primaryDocumentation ?? []).length > 0 }).toEqual({ file: relative(ROOT, file), primary: true });
      for (const url of urls) expect({ file: relative(ROOT, file), url, intoReadme: url.startsWith(`${REPO_URL}#`) }).toEqual({ file: relative(ROOT, file), url, intoReadme: true });
    }
    for (const file of sources.filter((f) => f.endsWith('.credentials.ts'))) {
      const url = /documentationUrl\s*=\s*'([^']+)'/.exec(readFileSync(file, 'utf8'))?.[1];
      expect({ file: relative(ROOT, file), url: url?.startsWith(`${REPO_URL}#`) }).toEqual({ file: relative(ROOT, file), url: true });
    }
  });

  test('every README anchor a node, credential or editor file links to exists', () => {
    const links = sources.flatMap((file) => readmeLinks(file, readFileSync(file, 'utf8')));
    expect(links.length).toBeGreaterThanOrEqual(18);
    expect(links.filter((l) => !valid(l.anchor))).toEqual([]);
  });

  test("every #anchor link inside the README exists", () => {
    const internal = [...readme.matchAll(/\]\(#([^)\s]+)\)|href="#([^"]+)"/g)].map((m) => m[1] ?? m[2]);
    expect(internal.length).toBeGreaterThan(0);
    expect(internal.filter((anchor) => !valid(anchor))).toEqual([]);
    // Links to its own GitHub page with an anchor, too.
    expect(readmeLinks('README.md', readme).filter((l) => !valid(l.anchor))).toEqual([]);
  });
});
