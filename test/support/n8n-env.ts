/**
 * What n8n-core needs before it loads (imported first by the n8n harness): reflect-metadata for its DI
 * container, and a user folder of its own per test file. n8n keeps its config (encryption key) there and
 * the Omnithread nodes, without a credential, their embedded SQLite store (.n8n/omnithread/omnithread.db).
 */
import 'reflect-metadata';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const n8nUserFolder = mkdtempSync(join(tmpdir(), 'omnithread-n8n-'));
process.env.N8N_USER_FOLDER = n8nUserFolder;
process.env.N8N_RUNNERS_ENABLED = 'false';
process.env.N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS = 'false';
process.env.N8N_DIAGNOSTICS_ENABLED = 'false';
process.env.N8N_VERSION = '0.0.0-test';
// n8n's logger prints every node error the tests provoke on purpose; N8N_LOG_LEVEL=info shows them.
process.env.N8N_LOG_LEVEL ??= 'silent';
