/**
 * Where an export goes, as a user points it: stdout in either format (`--format`, `file:-.ndjson`),
 * gzipped stdout, a FIFO and /dev/stdout written in place (never replaced by a regular file), and
 * `--format` refused where it could only contradict a name or describes nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { formatOfEachSide } from '../src/pipeline/file-formats.js';

const bin = new URL('../bin/gofannon-etl.js', import.meta.url).pathname;
const sample = new URL('../examples/sample-backup.json', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'file-targets-'));
const sampleDocs = Object.values((JSON.parse(readFileSync(sample, 'utf8')) as { data: Record<string, unknown[]> }).data).flat().length;

function run(args: string[], options: { encoding?: 'buffer' } = {}) {
  const result = spawnSync(process.execPath, [bin, ...args], { env: { ...process.env, CI: 'true' }, cwd: dir, encoding: options.encoding ?? 'utf8', maxBuffer: 1 << 26 });
  return { code: result.status, stdout: result.stdout as string & Buffer, stderr: String(result.stderr) };
}

/** NDJSON lines of documents, as `{collection, doc}` objects. */
function ndjsonDocs(text: string): { collection: string; doc?: { _id: string } }[] {
  return text.trim().split('\n').map((line) => JSON.parse(line) as { collection: string; doc?: { _id: string } }).filter((entry) => 'doc' in entry);
}

describe('stdout and special files', () => {
  test('file:- writes JSON by default and NDJSON with --format ndjson; file:-.ndjson says the same', () => {
    const json = run(['--from', `file:${sample}`, '--to', 'file:-', '-q']);
    expect(json.code).toBe(0);
    expect(Object.keys((JSON.parse(json.stdout) as { data: object }).data)).toHaveLength(9);
    const forced = run(['--from', `file:${sample}`, '--to', 'file:-', '--format', 'ndjson', '-q']);
    expect(forced.code).toBe(0);
    expect(ndjsonDocs(forced.stdout)).toHaveLength(sampleDocs);
    const named = run(['--from', `file:${sample}`, '--to', 'file:-.ndjson', '-q']);
    expect(named.code).toBe(0);
    expect(ndjsonDocs(named.stdout)).toEqual(ndjsonDocs(forced.stdout));
    expect(() => lstatSync(join(dir, '-.ndjson'))).toThrow();
  });

  test('file:-.ndjson.gz gzips stdout; the summary goes to stderr, never into the data', () => {
    const result = run(['--from', `file:${sample}`, '--to', 'file:-.ndjson.gz'], { encoding: 'buffer' });
    expect(result.code).toBe(0);
    expect(ndjsonDocs(gunzipSync(result.stdout).toString('utf8'))).toHaveLength(sampleDocs);
    expect(result.stderr).toContain('written');
  });

  test('a FIFO is written in place: its reader gets the whole export and the FIFO stays a FIFO', async () => {
    const fifo = join(dir, 'export.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const reader = spawn('cat', [fifo]);
    const chunks: Buffer[] = [];
    reader.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    const readerDone = new Promise((resolve) => reader.on('close', resolve));
    const writer = spawn(process.execPath, [bin, '--from', `file:${sample}`, '--to', `file:${fifo}`, '--format', 'ndjson', '-q'], { cwd: dir });
    const code = await new Promise((resolve) => writer.on('close', resolve));
    await readerDone;
    expect(code).toBe(0);
    expect(ndjsonDocs(Buffer.concat(chunks).toString('utf8'))).toHaveLength(sampleDocs);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  test('file:/dev/stdout writes to stdout in place, with messages kept off it', () => {
    const result = run(['--from', `file:${sample}`, '--to', 'file:/dev/stdout']);
    expect(result.code).toBe(0);
    expect(Object.keys((JSON.parse(result.stdout) as { data: object }).data)).toHaveLength(9);
    expect(result.stderr).toContain('written');
  });
});

describe('--format', () => {
  test('a --format that contradicts the target name, or describes no file, is refused with exit 2', () => {
    const contradicts = run(['--from', `file:${sample}`, '--to', 'file:out.json', '--format', 'ndjson']);
    expect(contradicts.code).toBe(2);
    expect(contradicts.stderr.trim()).toBe("gofannon-etl: --format ndjson contradicts the target's name file:out.json, which says json");
    const nothing = run(['--from', 'memory', '--to', 'null', '--format', 'json']);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('--format describes a file: source or target');
    const readOnly = run(['--from', 'memory', '--to', 'file:-', '--format', 'couchbackup']);
    expect(readOnly.code).toBe(2);
    expect(readOnly.stderr).toContain('gofannon-etl writes json or ndjson');
  });

  test('which side it describes', () => {
    // A target whose name says nothing takes a format we write; otherwise the source is forced.
    expect(formatOfEachSide('ndjson', 'backup.json', '-')).toEqual({ target: 'ndjson' });
    expect(formatOfEachSide('ndjson', 'backup.json', 'backup')).toEqual({ target: 'ndjson' });
    expect(formatOfEachSide('ndjson', 'backup.txt', 'out.json')).toEqual({ source: 'ndjson' });
    expect(formatOfEachSide('ndjson', 'backup.json', undefined)).toEqual({ source: 'ndjson' });
    expect(formatOfEachSide('couchbackup', 'agents.txt', '-')).toEqual({ source: 'couchbackup' });
    expect(formatOfEachSide('json', undefined, 'out.json')).toEqual({});
    expect(formatOfEachSide(undefined, 'a.json', '-')).toEqual({});
  });
});
