#!/usr/bin/env node
// `npm run build` (and so `npm start`, `npm test`, `npm run test:e2e`): builds only what changed.
// 1. TypeScript: `tsc -p tsconfig.build.json --incremental`, its build info in dist/ (deleting dist/
//    rebuilds everything). When no input is newer than the last build (the .ts sources, the tsconfigs,
//    package.json and package-lock.json) tsc is not even started: it would spend seconds checking.
// 2. Editor assets (scripts/build-assets.js) and 3. the desk page (scripts/build-desk.js): run when one
//    of their inputs is newer than their output.
// `npm run build -- --force` (or OMNITHREAD_BUILD_FORCE=1) builds everything.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const force = process.argv.includes('--force') || process.env.OMNITHREAD_BUILD_FORCE === '1';
const BUILD_INFO = path.join(root, 'dist', '.tsbuildinfo');

/** Newest modification time (ms) under the given files and folders; 0 when none exists. */
function newest(paths, keep = () => true) {
  let latest = 0;
  const visit = (p) => {
    let stat;
    try {
      stat = fs.statSync(p);
    } catch {
      return;
    }
    if (stat.isDirectory()) {
      for (const entry of fs.readdirSync(p)) if (entry !== 'node_modules' && entry !== 'dist') visit(path.join(p, entry));
    } else if (keep(p)) latest = Math.max(latest, stat.mtimeMs);
  };
  for (const p of paths) visit(path.join(root, p));
  return latest;
}
const mtime = (file) => {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
};
const runNode = (args) => execFileSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
const MANIFESTS = ['package.json', 'package-lock.json'];

const started = Date.now();
const done = [];

// 1. TypeScript.
const tsInputs = newest(['shared', 'nodes', 'credentials', 'tsconfig.json', 'tsconfig.build.json', ...MANIFESTS], (p) => /\.(ts|json)$/.test(p) && !p.includes(`${path.sep}desk${path.sep}page${path.sep}`));
if (force || mtime(BUILD_INFO) === 0 || tsInputs > mtime(BUILD_INFO)) {
  try {
    runNode([require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--incremental', '--tsBuildInfoFile', BUILD_INFO]);
  } catch {
    // tsc wrote its build info anyway: date it back, so the next build runs tsc again and shows the errors.
    if (fs.existsSync(BUILD_INFO)) fs.utimesSync(BUILD_INFO, new Date(0), new Date(0));
    console.error('build: tsc failed (above)');
    process.exit(1);
  }
  // tsc leaves the build info untouched when nothing needed emitting: stamp it, so the next start skips tsc.
  const now = new Date();
  if (fs.existsSync(BUILD_INFO)) fs.utimesSync(BUILD_INFO, now, now);
  done.push('tsc');
}

// 2. Editor assets next to the built nodes, and the example flows. Stamp: dist/.assets-built.
const ASSETS_STAMP = path.join(root, 'dist', '.assets-built');
const assetInputs = newest(['nodes', 'credentials', 'workflows/node-red', 'scripts/build-assets.js'], (p) => !p.endsWith('.ts'));
if (force || assetInputs > mtime(ASSETS_STAMP) || !fs.existsSync(path.join(root, 'examples'))) {
  runNode([path.join(root, 'scripts', 'build-assets.js')]);
  fs.writeFileSync(ASSETS_STAMP, new Date().toISOString());
  done.push('assets');
}

// 3. The desk page (browser bundle). Its output carries its own manifest.
const deskInputs = newest(['shared/desk/page', 'scripts/build-desk.js', ...MANIFESTS]);
if (force || deskInputs > mtime(path.join(root, 'dist', 'desk', 'manifest.json'))) {
  runNode([path.join(root, 'scripts', 'build-desk.js')]);
  done.push('desk');
}

console.log(
  done.length
    ? `build: ${done.join(', ')} rebuilt in ${((Date.now() - started) / 1000).toFixed(1)} s`
    : `build: up to date (${Date.now() - started} ms; npm run build -- --force rebuilds everything)`,
);
