/**
 * `npm run lint` (eslint nodes/n8n credentials) passes: typescript-eslint's recommended rules and n8n's
 * community-node rules, as eslint.config.mjs sets them up. Run here too so a regression fails npm test.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

test('eslint reports no problem in the n8n nodes and the credential', () => {
  const eslint = join(root, 'node_modules', 'eslint', 'bin', 'eslint.js');
  let output = '';
  try {
    output = execFileSync(process.execPath, [eslint, '--format', 'json', 'nodes/n8n', 'credentials'], { cwd: root, encoding: 'utf8' });
  } catch (error) {
    output = (error as { stdout?: string }).stdout ?? String(error);
  }
  const results = JSON.parse(output) as { filePath: string; messages: { ruleId: string; message: string; line: number }[] }[];
  const problems = results.flatMap((r) => r.messages.map((m) => `${r.filePath.slice(root.length + 1)}:${m.line} ${m.ruleId}: ${m.message}`));
  expect(problems).toEqual([]);
  expect(results.map((r) => r.filePath.slice(root.length + 1)).sort()).toEqual(
    expect.arrayContaining(['credentials/OmnithreadStoreApi.credentials.ts', 'nodes/n8n/common.ts', 'nodes/n8n/OmnithreadTrigger/OmnithreadTrigger.node.ts']),
  );
});
