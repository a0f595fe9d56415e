#!/usr/bin/env node
// The node icons, drawn once and written for both editors: `node scripts/icons.js` rewrites them.
// Each glyph is drawn on a 24x24 grid in two layers: `base` (the object: envelope, person, bubble...)
// and `thread` (the family mark: the thread, its knots and arrows, in the accent colour in n8n).
//   n8n:      nodes/n8n/<Node>/<file>.svg and .dark.svg (60x60, navy and violet; light strokes on dark)
//             credentials/<file>.svg and .dark.svg for the credential types
//   Node-RED: nodes/node-red/icons/omnithread-<file>.svg (40x60, white on the node colour, like core icons; the glyph fills the middle 36x36)
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');

/** Glyphs: SVG elements on a 24x24 grid; strokes unless the element says fill. */
const GLYPHS = {
  // Incoming arrow into a thread.
  trigger: {
    base: ['<path d="M2.5 12 H13"/>', '<path d="M9 8 L13 12 L9 16"/>'],
    thread: ['<path d="M18 4 C 14.5 8, 21.5 16, 18 20"/>', '<circle cx="18" cy="4" r="2" fill="@"/>', '<circle cx="18" cy="20" r="2" fill="@"/>'],
  },
  // An envelope with a knot of the thread on its corner.
  email: {
    base: ['<rect x="2.5" y="6" width="17" height="12.5" rx="1.5"/>', '<path d="M2.5 7.5 L11 13.5 L19.5 7.5"/>'],
    thread: ['<circle cx="20" cy="5.5" r="3" fill="@"/>'],
  },
  // A person with their linked handles.
  identity: {
    base: ['<circle cx="8.5" cy="8" r="3.5"/>', '<path d="M2.5 20 C 2.5 14, 14.5 14, 14.5 20"/>'],
    thread: ['<circle cx="19" cy="6" r="2" fill="@"/>', '<circle cx="19" cy="18" r="2" fill="@"/>', '<path d="M19 8 C 16.5 10.5, 21.5 13.5, 19 16"/>'],
  },
  // A timeline: the thread with its events.
  timeline: {
    base: ['<path d="M10 6 H21"/>', '<path d="M10 12 H18"/>', '<path d="M10 18 H21"/>'],
    thread: ['<path d="M5 3 V21"/>', '<circle cx="5" cy="6" r="2" fill="@"/>', '<circle cx="5" cy="12" r="2" fill="@"/>', '<circle cx="5" cy="18" r="2" fill="@"/>'],
  },
  // A speech bubble with a reply arrow.
  reply: {
    base: ['<path d="M4.5 4 H19.5 A1.5 1.5 0 0 1 21 5.5 V15 A1.5 1.5 0 0 1 19.5 16.5 H11 L6.5 20.5 V16.5 H4.5 A1.5 1.5 0 0 1 3 15 V5.5 A1.5 1.5 0 0 1 4.5 4 Z"/>'],
    thread: ['<path d="M8 10.25 H16"/>', '<path d="M11 7.25 L8 10.25 L11 13.25"/>'],
  },
  // One message branching to three targets.
  route: {
    base: ['<circle cx="3.5" cy="12" r="1.5" fill="@base"/>', '<path d="M3.5 12 H9"/>', '<path d="M9 12 C 13 12, 13 5, 17.5 5"/>', '<path d="M9 12 H17.5"/>', '<path d="M9 12 C 13 12, 13 19, 17.5 19"/>'],
    thread: ['<circle cx="20" cy="5" r="2" fill="@"/>', '<circle cx="20" cy="12" r="2" fill="@"/>', '<circle cx="20" cy="19" r="2" fill="@"/>'],
  },
  // A conversation handed over: two opposite arrows.
  handoff: {
    base: ['<path d="M3 8 H19"/>', '<path d="M15 4 L19 8 L15 12"/>'],
    thread: ['<path d="M21 16 H5"/>', '<path d="M9 12 L5 16 L9 20"/>'],
  },
  // An inbox tray with a message dropping in.
  desk: {
    base: ['<path d="M2.5 12.5 V19 A1.5 1.5 0 0 0 4 20.5 H20 A1.5 1.5 0 0 0 21.5 19 V12.5"/>', '<path d="M2.5 12.5 H8 L10 15.5 H14 L16 12.5 H21.5"/>'],
    thread: ['<path d="M12 2.5 V10.5"/>', '<path d="M8.5 7 L12 10.5 L15.5 7"/>'],
  },
  // A database, its middle band the thread.
  store: {
    base: ['<ellipse cx="12" cy="5.5" rx="8" ry="3"/>', '<path d="M4 5.5 V18.5 A8 3 0 0 0 20 18.5 V5.5"/>'],
    thread: ['<path d="M4 12 A8 3 0 0 0 20 12"/>'],
  },
  // A plug: a channel connected.
  channel: {
    base: ['<path d="M9 2.5 V7"/>', '<path d="M15 2.5 V7"/>', '<path d="M5.5 7 H18.5 V10.5 A6.5 6.5 0 0 1 5.5 10.5 Z"/>'],
    thread: ['<path d="M12 17 C 12 19.5, 16 19, 16 21.5"/>', '<circle cx="16" cy="21.5" r="1.5" fill="@"/>'],
  },
  // A spark: the language model.
  llm: {
    base: ['<path d="M10.5 3.5 L12.3 9.2 L18 11 L12.3 12.8 L10.5 18.5 L8.7 12.8 L3 11 L8.7 9.2 Z"/>'],
    thread: ['<path d="M18.5 15 L19.3 17.2 L21.5 18 L19.3 18.8 L18.5 21 L17.7 18.8 L15.5 18 L17.7 17.2 Z" fill="@"/>', '<circle cx="19" cy="5" r="1.5" fill="@"/>'],
  },
};

const THEMES = {
  light: { base: '#1f2a44', thread: '#7c4dff' },
  dark: { base: '#e8ecf5', thread: '#b39dff' },
  nodeRed: { base: '#ffffff', thread: '#ffffff' },
};

function layer(elements, colour, baseColour) {
  return elements.map((e) => e.replace('fill="@base"', `fill="${baseColour}"`).replace('fill="@"', `fill="${colour}"`)).join('');
}

/** One glyph as an SVG file for a theme: n8n's 60x60 square or Node-RED's 40x60 (glyph in the middle 36x36). */
function svg(name, theme, nodeRed = false) {
  const glyph = GLYPHS[name];
  const colours = THEMES[theme];
  const [w, h, transform, stroke] = nodeRed ? [40, 60, 'translate(2 12) scale(1.5)', 2] : [60, 60, 'translate(6 6) scale(2)', 2];
  const g = (colour, elements) =>
    `<g fill="none" stroke="${colour}" stroke-width="${stroke}" stroke-linecap="round" stroke-linejoin="round">${layer(elements, colour, colours.base)}</g>`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">`,
    `  <g transform="${transform}">`,
    `    ${g(colours.base, glyph.base)}`,
    `    ${g(colours.thread, glyph.thread)}`,
    '  </g>',
    '</svg>',
    '',
  ].join('\n');
}

/** Which glyph each n8n node, credential and Node-RED node wears. */
const N8N_NODES = {
  OmnithreadTrigger: 'trigger',
  OmnithreadEmailTrigger: 'email',
  OmnithreadIdentityResolve: 'identity',
  OmnithreadTimelineLookup: 'timeline',
  OmnithreadReply: 'reply',
  OmnithreadAiRoute: 'route',
  OmnithreadHandoff: 'handoff',
  OmnithreadDesk: 'desk',
};
const CREDENTIAL_GLYPHS = ['store', 'llm', 'desk', 'email', 'channel'];
const NODE_RED = ['trigger', 'email', 'identity', 'timeline', 'reply', 'route', 'handoff', 'desk', 'store', 'channel', 'llm'];

function write(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

if (require.main === module) {
  for (const [node, glyph] of Object.entries(N8N_NODES)) {
    write(path.join(root, 'nodes', 'n8n', node, `${glyph}.svg`), svg(glyph, 'light'));
    write(path.join(root, 'nodes', 'n8n', node, `${glyph}.dark.svg`), svg(glyph, 'dark'));
  }
  for (const glyph of CREDENTIAL_GLYPHS) {
    write(path.join(root, 'credentials', `${glyph}.svg`), svg(glyph, 'light'));
    write(path.join(root, 'credentials', `${glyph}.dark.svg`), svg(glyph, 'dark'));
  }
  for (const glyph of NODE_RED) write(path.join(root, 'nodes', 'node-red', 'icons', `omnithread-${glyph}.svg`), svg(glyph, 'nodeRed', true));
  console.log(`icons written: ${Object.keys(N8N_NODES).length} n8n nodes, ${CREDENTIAL_GLYPHS.length} credentials, ${NODE_RED.length} Node-RED`);
}

module.exports = { GLYPHS, N8N_NODES, CREDENTIAL_GLYPHS, NODE_RED, svg };
