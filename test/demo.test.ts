import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The README's first command: `npm run demo` (the build exists: `npm test` builds first). */
describe('npm run demo', () => {
  it('migrates the sample backup file -> CouchDB -> DynamoDB -> file and verifies it identical', async () => {
    expect(existsSync(join(root, 'dist', 'cli.js')), 'dist/ is missing: run npm run build first').toBe(true);
    const { code, out } = await new Promise<{ code: number | null; out: string }>((done, fail) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (b) => (out += b));
      child.stderr.on('data', (b) => (out += b));
      child.on('error', fail);
      child.on('exit', (code) => done({ code, out }));
    });
    expect(code, out).toBe(0);
    // Every hop verified, and the final round trip compared with the shipped sample.
    expect(out.match(/^Identical: /gm), out).toHaveLength(3);
    expect(out, out).toContain('Identical: file:demo-output/backup.json.gz holds exactly what file:examples/sample-backup.json holds.');
    expect(out).toContain('came back identical');
    expect(out).not.toMatch(/\bfailed \(exit/);
  }, 120_000);
});
