#!/usr/bin/env node
// Bundles the Omnithread Desk page (shared/desk/page: Preact + htm + uPlot, browser code) with esbuild into
// dist/desk/app.js and dist/desk/app.css (uPlot's stylesheet included), minified, and writes
// dist/desk/manifest.json with each file's content hash (sha256, first 12 hex digits), so the server can
// serve them as `?asset=app.<hash>.js` with long cache headers. Nothing is loaded from a CDN at run time.
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const esbuild = require('esbuild');

const root = path.join(__dirname, '..');
const src = path.join(root, 'shared', 'desk', 'page');
const out = path.join(root, 'dist', 'desk');
/**
 * htm's templates are strings esbuild cannot minify: drop their indentation. htm ignores whitespace that
 * contains a line break, so keeping the line break and dropping the spaces after it changes nothing drawn
 * (the page's sources have no other multi-line template literals).
 */
const dedentTemplates = {
  name: 'dedent-templates',
  setup(build) {
    build.onLoad({ filter: /[\\/]shared[\\/]desk[\\/]page[\\/].*\.ts$/ }, async (args) => ({
      contents: (await fs.promises.readFile(args.path, 'utf8')).replace(/\n[ \t]+/g, '\n'),
      loader: 'ts',
    }));
  },
};
const TYPES = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

async function main() {
  const started = Date.now();
  fs.rmSync(out, { recursive: true, force: true });
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: [
      { in: path.join(src, fs.existsSync(path.join(src, 'main.ts')) ? 'main.ts' : 'main.js'), out: 'app' },
      { in: path.join(src, 'app.css'), out: 'app' },
    ],
    outdir: out,
    bundle: true,
    minify: true,
    format: 'iife',
    platform: 'browser',
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    tsconfig: path.join(src, 'tsconfig.json'),
    define: { 'process.env.NODE_ENV': '"production"' },
    charset: 'utf8',
    plugins: [dedentTemplates],
    logLevel: 'error',
  });

  const files = {};
  for (const file of ['app.js', 'app.css']) {
    const bytes = fs.readFileSync(path.join(out, file));
    const hash = crypto.createHash('sha256').update(bytes).digest('hex').slice(0, 12);
    const ext = path.extname(file);
    files[file] = { file, hash, name: `${path.basename(file, ext)}.${hash}${ext}`, bytes: bytes.length, contentType: TYPES[ext] };
  }
  fs.writeFileSync(path.join(out, 'manifest.json'), `${JSON.stringify({ version: 1, files }, null, 2)}\n`);

  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  const gz = (file) => zlib.gzipSync(fs.readFileSync(path.join(out, file))).length;
  console.log(
    `desk page built: app.js ${kb(files['app.js'].bytes)} (gzip ${kb(gz('app.js'))}), app.css ${kb(files['app.css'].bytes)} (gzip ${kb(gz('app.css'))}) in ${Date.now() - started} ms`,
  );
}

main().catch((err) => {
  console.error(`desk page build failed: ${err.message}`);
  process.exit(1);
});
