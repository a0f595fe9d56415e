'use strict';
/**
 * A small round-robin HTTP proxy, in a child process of its own: what a load balancer in front of several
 * Node-RED instances does, and nothing more. Each listener spreads the requests it gets over its upstreams
 * in turn, over keep-alive connections; status, headers and body are passed through as they are.
 *
 * IPC: { type: 'start', listeners: [{ name, upstreams: ['http://127.0.0.1:port', ...] }] }
 *   -> { type: 'listening', ports: { name: port } }; { type: 'stats' } -> { type: 'stats', forwarded: { name: [n per upstream] } }.
 */
const http = require('node:http');

function listen({ upstreams }) {
  const targets = upstreams.map((u) => new URL(u));
  const agents = targets.map(() => new http.Agent({ keepAlive: true, maxSockets: 64 }));
  const forwarded = targets.map(() => 0);
  let turn = 0;
  const server = http.createServer((req, res) => {
    const i = turn;
    turn = (turn + 1) % targets.length;
    forwarded[i]++;
    const target = targets[i];
    const upstream = http.request(
      { hostname: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers, agent: agents[i] },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (error) => {
      if (res.headersSent) res.destroy();
      else {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: `proxy: ${error.message}` }));
      }
    });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: server.address().port, forwarded })));
}

if (require.main === module) {
  const listeners = {};
  process.on('message', async (command) => {
    if (command.type === 'start') {
      for (const l of command.listeners) listeners[l.name] = await listen(l);
      process.send({ type: 'listening', ports: Object.fromEntries(Object.entries(listeners).map(([name, l]) => [name, l.port])) });
    } else if (command.type === 'stats') {
      process.send({ type: 'stats', forwarded: Object.fromEntries(Object.entries(listeners).map(([name, l]) => [name, [...l.forwarded]])) });
    } else if (command.type === 'exit') process.exit(0);
  });
}

module.exports = { listen };
