#!/usr/bin/env node
// Copies what tsc does not: Node-RED editor files (.html, icons, locales) next to their built .js, n8n
// icons and codex files next to their nodes, and the Node-RED example flows into examples/ (Node-RED
// looks for <package>/examples/*.json).
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const ASSET = /\.(html|svg|png|json)$/;

function copyTree(from, to, keep) {
  if (!fs.existsSync(from)) return 0;
  let copied = 0;
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) copied += copyTree(source, target, keep);
    else if (keep(entry.name)) {
      fs.mkdirSync(to, { recursive: true });
      fs.copyFileSync(source, target);
      copied++;
    }
  }
  return copied;
}

const counts = {
  nodes: copyTree(path.join(root, 'nodes'), path.join(root, 'dist', 'nodes'), (name) => ASSET.test(name)),
  credentials: copyTree(path.join(root, 'credentials'), path.join(root, 'dist', 'credentials'), (name) => ASSET.test(name)),
};
const examples = path.join(root, 'examples');
fs.rmSync(examples, { recursive: true, force: true });
counts.examples = copyTree(path.join(root, 'workflows', 'node-red'), examples, (name) => name.endsWith('.json'));
console.log(`assets copied: ${counts.nodes} node files, ${counts.credentials} credential files, ${counts.examples} Node-RED examples`);
