/**
 * Omnithread's one Node.js requirement, checked where it matters with a message a user can act on
 * instead of a stack trace.
 *
 * Omnithread needs Node.js 22.13 or newer: its embedded store is Node's built-in `node:sqlite`
 * (unflagged from 22.13). Everything else runs on Node 20, so on an older Node the package still loads
 * (with one warning) and a PostgreSQL store works; opening the SQLite store says what to do.
 */
import type * as NodeSqlite from 'node:sqlite';
import { OmnithreadError } from './errors';

export const NODE_REQUIREMENT = '22.13';
/** Below this the package does not load at all (n8n 1.x and Node-RED 4 need at least Node 20 themselves). */
const LOAD_MINIMUM = [20, 0] as const;

const versionParts = (version: string): [number, number] => {
  const [major, minor] = version.replace(/^v/, '').split('.').map((part) => Number.parseInt(part, 10));
  return [major || 0, minor || 0];
};
const atLeast = (version: string, [major, minor]: readonly [number, number]): boolean => {
  const [m, n] = versionParts(version);
  return m > major || (m === major && n >= minor);
};

/** True when this Node.js meets Omnithread's requirement (22.13 or newer). */
export function nodeVersionSupported(version: string = process.versions.node): boolean {
  return atLeast(version, versionParts(NODE_REQUIREMENT));
}

/** The sentence every message starts with: "Omnithread needs Node.js 22.13 or newer (this is 20.20.2)". */
export function nodeRequirementMessage(version: string = process.versions.node): string {
  return `Omnithread needs Node.js ${NODE_REQUIREMENT} or newer (this is ${version})`;
}

const SQLITE_ADVICE =
  'its embedded SQLite store is Node\'s built-in node:sqlite. Upgrade the Node.js that runs n8n or Node-RED, ' +
  'or use a PostgreSQL store (n8n: an "Omnithread Store API" credential of type PostgreSQL; Node-RED: an ' +
  'omnithread-store config node set to PostgreSQL).';

/**
 * Run once when the package loads (shared/index.ts, which every n8n and Node-RED node file imports).
 * Too old to load at all: throws the requirement. Older than 22.13: one process warning, and the
 * package loads so that PostgreSQL stores work.
 */
export function checkNodeVersionAtLoad(version: string = process.versions.node): void {
  if (!atLeast(version, LOAD_MINIMUM)) {
    throw new Error(`${nodeRequirementMessage(version)}: upgrade the Node.js that runs n8n or Node-RED.`);
  }
  if (!nodeVersionSupported(version) && !warned) {
    warned = true;
    process.emitWarning(`${nodeRequirementMessage(version)}: only a PostgreSQL store works here; ${SQLITE_ADVICE}`, {
      code: 'OMNITHREAD_NODE_VERSION',
    });
  }
}
let warned = false;

/** `node:sqlite`, loaded only when a SQLite store is opened; on an older Node, the requirement as an error. */
export function loadNodeSqlite(version: string = process.versions.node): typeof NodeSqlite {
  if (!nodeVersionSupported(version)) {
    throw new OmnithreadError('STORE_CONFIG', `${nodeRequirementMessage(version)}: ${SQLITE_ADVICE}`, { field: 'storeType' });
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('node:sqlite') as typeof NodeSqlite;
}
