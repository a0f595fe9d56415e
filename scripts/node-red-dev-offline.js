// Preload for `node-red-dev validate` (the Node-RED Flow Library scorecard) where catalogue.nodered.org
// is unreachable, e.g. CI or build machines that reach only the npm registry:
//   npm run build && npm pack && tar xzf omnithread-n8n-nodes-omnithread-*.tgz
//   NODE_OPTIONS="--require $PWD/scripts/node-red-dev-offline.js" npx node-red-dev@0.1.6 validate -p package
// node-red-dev 0.1.6 stops at its first failed request, so the catalogue lookup (P08: similar names in
// other scopes, N01: node types unique across the catalogue) would abort every later check. This answers
// that one lookup with an empty catalogue when the real one can not be fetched, and says so: P08 and N01
// are then NOT checked. Every other request (the npm registry for P06, P07, D02, D03) goes out as usual.
const Module = require('node:module');

const CATALOGUE = 'https://catalogue.nodered.org/catalogue.json';
let warned = false;
const load = Module._load;
Module._load = function (request, parent, isMain) {
  const exported = load.apply(this, arguments);
  if (request === 'axios' && exported && typeof exported.get === 'function' && !exported.__omnithreadOffline) {
    const get = exported.get.bind(exported);
    exported.get = (url, ...rest) =>
      url !== CATALOGUE
        ? get(url, ...rest)
        : get(url, { timeout: 5000, ...(rest[0] || {}) }).catch((error) => {
            if (!warned) {
              warned = true;
              console.log(`⚠️  ${CATALOGUE} unreachable (${error.code || error.message}): P08 and N01 are NOT checked (empty catalogue)`);
            }
            return { data: { modules: [] } };
          });
    exported.__omnithreadOffline = true;
  }
  return exported;
};
