/**
 * `--shard`'s logic, in process: parsing (INDEX/COUNT, auto/COUNT from the runners' variables,
 * every malformed form one usage line), per-shard file names that never collide, the stable hash
 * split of a source without its own split points, and NDJSON's own splits (byte ranges at line
 * starts, line numbers for gzip) exact at every cut point and buffer size.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { readNdjson } from '../src/formats/ndjson-reader.js';
import { checkedShard, parseShard, shardFileName, shardFilter, shardOfId, withShardFiles } from '../src/pipeline/shards.js';
import { migrate } from '../src/pipeline.js';
import fileSource from '../src/sources/file.js';
import { memoryStore } from '../src/stores/memory/store.js';
import type { Shard, Source, SourceChunk } from '../src/types.js';
import { dynamoItems, writeDynamoExport } from './foreign-fixtures.js';
import { failure, testAdapterOptions } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'shards-'));

describe('parsing --shard', () => {
  test('INDEX/COUNT, 0-based', () => {
    expect(parseShard('0/1', {})).toEqual({ index: 0, count: 1 });
    expect(parseShard('2/4', {})).toEqual({ index: 2, count: 4 });
    expect(parseShard('9/10', {})).toEqual({ index: 9, count: 10 });
  });

  test('auto/COUNT takes the index of a Kubernetes Indexed Job, else of an AWS Batch array job', () => {
    expect(parseShard('auto/4', { JOB_COMPLETION_INDEX: '3' })).toEqual({ index: 3, count: 4 });
    expect(parseShard('auto/4', { AWS_BATCH_JOB_ARRAY_INDEX: '1' })).toEqual({ index: 1, count: 4 });
    expect(parseShard('auto/4', { JOB_COMPLETION_INDEX: '0', AWS_BATCH_JOB_ARRAY_INDEX: '2' })).toEqual({ index: 0, count: 4 });
  });

  test.each([
    ['4/4', /--shard 4\/4: INDEX must be from 0 to 3 \(COUNT-1\); shards are numbered from 0/],
    ['1/0', /--shard 1\/0: COUNT must be at least 1/],
    ['-1/4', /--shard -1\/4: expected INDEX\/COUNT/],
    ['1', /--shard 1: expected INDEX\/COUNT \(e\.g\. 0\/4, INDEX from 0 to COUNT-1\) or auto\/COUNT/],
    ['a/4', /expected INDEX\/COUNT/],
    ['1/4/2', /expected INDEX\/COUNT/],
    ['1.5/4', /expected INDEX\/COUNT/],
    ['01/4', /expected INDEX\/COUNT/],
    ['1/', /expected INDEX\/COUNT/],
    ['', /^--shard needs INDEX\/COUNT/],
  ])('%j is refused with one usage line', async (text, message) => {
    const error = await failure(async () => parseShard(text, {}));
    expect(error.kind).toBe('usage');
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain('\n');
  });

  test('auto/COUNT without a runner\'s variable, or with one out of range or not a number, is refused naming it', async () => {
    const missing = await failure(async () => parseShard('auto/4', {}));
    expect(missing.message).toBe(
      '--shard auto/4: neither JOB_COMPLETION_INDEX (Kubernetes Indexed Job) nor AWS_BATCH_JOB_ARRAY_INDEX (AWS Batch array job) is set; outside such a job give the index: --shard 0/4',
    );
    const empty = await failure(async () => parseShard('auto/4', { JOB_COMPLETION_INDEX: '' }));
    expect(empty.message).toMatch(/neither JOB_COMPLETION_INDEX/);
    const range = await failure(async () => parseShard('auto/4', { AWS_BATCH_JOB_ARRAY_INDEX: '4' }));
    expect(range.message).toBe("--shard auto/4 (AWS_BATCH_JOB_ARRAY_INDEX=4): INDEX must be from 0 to 3 (COUNT-1); the AWS Batch array job's size must be the COUNT of --shard auto/COUNT");
    const word = await failure(async () => parseShard('auto/4', { JOB_COMPLETION_INDEX: 'two' }));
    expect(word.message).toBe('--shard auto/4: JOB_COMPLETION_INDEX=two is not a whole number');
    for (const error of [missing, range, word]) expect(error.kind).toBe('usage');
  });

  test('the library\'s { index, count } is checked the same way', async () => {
    expect(checkedShard({ index: 1, count: 2 })).toEqual({ index: 1, count: 2 });
    expect((await failure(async () => checkedShard({ index: 2, count: 2 }))).message).toMatch(/INDEX must be from 0 to 1/);
    expect((await failure(async () => checkedShard({ index: 0.5, count: 2 }))).message).toMatch(/INDEX must be/);
    expect((await failure(async () => checkedShard({ index: 0, count: 0 }))).message).toMatch(/COUNT must be a whole number of at least 1/);
  });
});

describe('per-shard file names', () => {
  const two = { index: 2, count: 4 };
  test('the shard goes before the extension, both parts of .X.gz, directories kept', () => {
    expect(shardFileName('run.ckpt', two)).toBe('run.shard-2-of-4.ckpt');
    expect(shardFileName('r.json', two)).toBe('r.shard-2-of-4.json');
    expect(shardFileName('out/failed.ndjson', two)).toBe('out/failed.shard-2-of-4.ndjson');
    expect(shardFileName('/data/backup.ndjson.gz', two)).toBe('/data/backup.shard-2-of-4.ndjson.gz');
    expect(shardFileName('my.run.ckpt', two)).toBe('my.run.shard-2-of-4.ckpt');
    expect(shardFileName('report', two)).toBe('report.shard-2-of-4');
    expect(shardFileName('.ckpt', two)).toBe('.ckpt.shard-2-of-4');
    expect(shardFileName('x.gz', two)).toBe('x.shard-2-of-4.gz');
  });

  test('indexes are written as the runners give them, so a script can name a shard\'s file from its variable', () => {
    expect(shardFileName('run.ckpt', { index: 3, count: 12 })).toBe('run.shard-3-of-12.ckpt');
    expect(shardFileName('run.ckpt', { index: 11, count: 12 })).toBe('run.shard-11-of-12.ckpt');
  });

  test('no two shards, counts or files of a run share a name, nor take the unsharded one', () => {
    const given = ['run.ckpt', 'r.json', 'failed.ndjson', 'out.ndjson', 'out.json', 'out.ndjson.gz', 'out'];
    const all = new Set<string>(given);
    let made = 0;
    for (const count of [1, 2, 3, 4, 10, 11]) {
      for (let index = 0; index < count; index++) {
        for (const name of given) {
          all.add(shardFileName(name, { index, count }));
          made++;
        }
      }
    }
    expect(all.size).toBe(given.length + made);
  });

  test('report, dead letters and checkpoint are renamed, the target as the caller says', () => {
    const target = (to: unknown, shard: Shard) => `${String(to)} for ${shard.index}`;
    const named = withShardFiles({ shard: 'auto/3', env: { JOB_COMPLETION_INDEX: '1' }, to: 'file:out.ndjson', report: 'r.json', deadLetter: 'dl.ndjson', checkpoint: 'c.ckpt' }, target);
    expect(named).toMatchObject({ shard: { index: 1, count: 3 }, to: 'file:out.ndjson for 1', report: 'r.shard-1-of-3.json', deadLetter: 'dl.shard-1-of-3.ndjson', checkpoint: 'c.shard-1-of-3.ckpt' });
    const unsharded = { to: 'file:out.ndjson', report: 'r.json' };
    expect(withShardFiles(unsharded, target)).toBe(unsharded);
  });
});

describe('the hash split', () => {
  test('is stable: the same _id lands in the same shard in every version', () => {
    // Pinned: a resumed shard, or one run by a later version, must keep the same documents.
    expect(['a', 'b', 'agents-000001', 'é日本', ''].map((id) => shardOfId(id, 7))).toEqual(pinned);
  });

  test.each([2, 3, 4, 10])('spreads sequential ids evenly over %i shards (within a tenth)', (count) => {
    const sizes = new Array<number>(count).fill(0);
    const n = 20000;
    for (let i = 0; i < n; i++) sizes[shardOfId(`users-${String(i).padStart(6, '0')}`, count)]!++;
    for (const size of sizes) expect(Math.abs(size - n / count)).toBeLessThan((0.1 * n) / count);
  });

  test('each document lands in exactly one shard; what has no usable _id only in shard 0; where and refused follow', () => {
    const docs: unknown[] = [...Array.from({ length: 200 }, (_, i) => ({ _id: `d${i}` })), { name: 'no id' }, { _id: 7 }, { _id: '' }, 'text', null];
    const chunk: SourceChunk = { collection: 'c', docs, where: (i) => `line ${i + 1}`, refused: [{ doc: {}, reason: 'subcollection' }], position: { at: 9 } };
    const count = 3;
    const seen = new Map<unknown, number[]>();
    const wheres = new Set<string>();
    for (let index = 0; index < count; index++) {
      const part = shardFilter({ index, count })(chunk);
      expect(part.position).toEqual({ at: 9 });
      expect(part.refused).toHaveLength(index === 0 ? 1 : 0);
      // Each kept document still says where it came from.
      part.docs.forEach((doc, i) => {
        expect(part.where!(i)).toBe(`line ${docs.indexOf(doc) + 1}`);
        wheres.add(part.where!(i));
        seen.set(doc, [...(seen.get(doc) ?? []), index]);
      });
      expect(part.docs.length).toBeGreaterThan(40);
    }
    expect(seen.size).toBe(docs.length);
    for (const [doc, shards] of seen) {
      expect(shards).toHaveLength(1);
      const id = (doc as { _id?: unknown } | null)?._id;
      if (typeof id !== 'string' || id === '') expect(shards).toEqual([0]);
    }
    expect(wheres.size).toBe(docs.length);
  });
});

/** `shardOfId` of ['a', 'b', 'agents-000001', 'é日本', ''] over 7 shards, as first computed. */
const pinned = [0, 5, 1, 5, 4];

/** An NDJSON export of our format: lines of varied length, multi-byte characters, an empty collection, blank lines, metadata. */
function ndjsonText(docs: number): string {
  const lines: string[] = [];
  const collections = ['agents', 'users', 'tickets'];
  for (const c of collections) {
    for (let i = 0; i < docs; i++) lines.push(JSON.stringify({ collection: c, doc: { _id: `${c}-${i}`, n: i, text: 'é日'.repeat(i % 13), pad: 'x'.repeat((i * 7) % 50) } }));
    if (c === 'agents') lines.push(JSON.stringify({ collection: 'demos' }), '');
  }
  lines.push(JSON.stringify({ metadata: { provider: 'memory', exported_at: 'x', collections: [...collections, 'demos'] } }));
  return lines.join('\n') + '\n';
}

async function readAll(source: Source, shard?: Shard, resumeFrom?: SourceChunk['position']): Promise<SourceChunk[]> {
  const chunks: SourceChunk[] = [];
  for await (const chunk of source.read({ shard, resumeFrom, signal: new AbortController().signal })) chunks.push(chunk);
  return chunks;
}

const ids = (chunks: SourceChunk[]) => chunks.flatMap((c) => c.docs.map((d) => `${c.collection}/${(d as { _id: string })._id}`));

describe('NDJSON files split natively', () => {
  const text = ndjsonText(40);
  const whole = text.split('\n').filter((l) => l.includes('"doc"')).map((l) => {
    const { collection, doc } = JSON.parse(l) as { collection: string; doc: { _id: string } };
    return `${collection}/${doc._id}`;
  });

  test.each([
    ['plain', 'split.ndjson', Buffer.from(text), /byte ranges/],
    ['gzipped', 'split.ndjson.gz', gzipSync(text), /line numbers modulo/],
  ])('%s: COUNT 1 to 8 shards read every document once, at tiny buffer sizes too', async (_, name, bytes, splits) => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    for (const highWaterMark of [7, 64, 1 << 20]) {
      const source = await fileSource({ scheme: 'file', rest: path, raw: `file:${path}` }, { ...testAdapterOptions(), highWaterMark });
      expect(source.splits).toMatch(splits);
      for (let count = 1; count <= 8; count++) {
        const parts: string[][] = [];
        for (let index = 0; index < count; index++) parts.push(ids(await readAll(source, { index, count })));
        expect(parts.flat().sort()).toEqual([...whole].sort());
        expect(new Set(parts.flat()).size).toBe(whole.length);
        // Shares of comparable size: none empty on a file this large.
        for (const part of parts) expect(part.length).toBeGreaterThan(whole.length / count / 3);
      }
    }
  });

  test('a byte range is exact at every cut point: two shares cut anywhere hold every line once', async () => {
    const bytes = Buffer.from(ndjsonText(6));
    const wholeRead = ids(await chunksOf(bytes, 0, bytes.length));
    expect(wholeRead.length).toBe(18);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const left = ids(await chunksOf(bytes, 0, cut));
      const right = ids(await chunksOf(bytes, cut, bytes.length));
      expect([...left, ...right], `cut at ${cut}`).toEqual(wholeRead);
    }
  });

  test('a shard resumes inside its range from a position it gave, and names byte offsets where lines are not counted', async () => {
    const path = join(dir, 'resume.ndjson');
    writeFileSync(path, text);
    const source = await fileSource({ scheme: 'file', rest: path, raw: `file:${path}` }, { ...testAdapterOptions(), batchSize: 10 });
    const shard = { index: 1, count: 3 };
    const first = await readAll(source, shard);
    const withDocs = first.filter((c) => c.docs.length > 0);
    expect(withDocs.length).toBeGreaterThan(2);
    // Lines before the range were never counted: the position has no line, `where` names the byte.
    expect(withDocs[0]!.position).not.toHaveProperty('line');
    expect(withDocs[0]!.where!(0)).toMatch(/resume\.ndjson byte \d+$/);
    const offset = Number(withDocs[0]!.where!(0).split(' ').pop());
    expect(Buffer.from(text).subarray(offset - 1, offset + 13).toString()).toBe('\n{"collection"');
    const resumed = await readAll(source, shard, withDocs[0]!.position);
    expect(ids(resumed)).toEqual(ids(withDocs.slice(1)));
  });

  test('a gzipped file\'s shard resumes from a position it gave, keeping the same lines', async () => {
    const path = join(dir, 'resume.ndjson.gz');
    writeFileSync(path, gzipSync(text));
    const source = await fileSource({ scheme: 'file', rest: path, raw: `file:${path}` }, { ...testAdapterOptions(), batchSize: 10 });
    const shard = { index: 2, count: 3 };
    const withDocs = (await readAll(source, shard)).filter((c) => c.docs.length > 0);
    expect(withDocs.length).toBeGreaterThan(2);
    // Read from the start, its lines are counted, and the count decides which are this shard's.
    expect(withDocs[1]!.position).toHaveProperty('line');
    expect(withDocs[0]!.where!(0)).toMatch(/resume\.ndjson\.gz line \d+$/);
    const line = Number(withDocs[0]!.where!(0).split(' ').pop());
    expect(text.split('\n')[line - 1]).toContain(`"_id":"${(withDocs[0]!.docs[0] as { _id: string })._id}"`);
    const resumed = await readAll(source, shard, withDocs[1]!.position);
    expect(ids(resumed)).toEqual(ids(withDocs.slice(2)));
  });
});

describe('a DynamoDB export to S3 splits by data file', () => {
  test('COUNT 1 to 4 shards read every item once, each from its own data files', async () => {
    const { items } = dynamoItems();
    const many = Array.from({ length: 40 }, (_, i) => items.map((item) => ({ ...item, _id: { S: `${(item._id as { S: string }).S}-${i}` } }))).flat();
    const fixture = writeDynamoExport(join(dir, 'ddb-export'), 'agents', many);
    const source = await fileSource({ scheme: 'file', rest: fixture.folder, raw: `file:${fixture.folder}` }, testAdapterOptions());
    expect(source.splits).toMatch(/^data files/);
    const whole = ids(await readAll(source));
    expect(whole).toHaveLength(many.length);
    for (let count = 1; count <= 4; count++) {
      const parts: string[][] = [];
      for (let index = 0; index < count; index++) parts.push(ids(await readAll(source, { index, count })));
      expect(parts.flat().sort()).toEqual([...whole].sort());
      // Data file i goes to shard i mod COUNT: the fixture's two halves (the third file is empty).
      if (count >= 2) expect(parts.slice(0, 2).map((p) => p.length)).toEqual([many.length / 2, many.length / 2]);
    }
    // A shard resumes over its own files from a position it gave.
    const small = await fileSource({ scheme: 'file', rest: fixture.folder, raw: `file:${fixture.folder}` }, { ...testAdapterOptions(), batchSize: 10 });
    const shard = { index: 1, count: 2 };
    const withDocs = (await readAll(small, shard)).filter((c) => c.docs.length > 0);
    expect(withDocs.length).toBeGreaterThan(3);
    expect(ids(await readAll(small, shard, withDocs[2]!.position))).toEqual(ids(withDocs.slice(3)));
  });
});

/** What readNdjson gives for the lines that start in [from, end) of `bytes`, fed as a shard's file read is (one byte early), in 5-byte buffers. */
async function chunksOf(bytes: Buffer, from: number, end: number): Promise<SourceChunk[]> {
  const start = from > 0 ? from - 1 : 0;
  async function* input() {
    for (let i = start; i < bytes.length; i += 5) yield bytes.subarray(i, Math.min(bytes.length, i + 5));
  }
  const chunks: SourceChunk[] = [];
  const options = { name: 'x.ndjson', batchSize: 1000, signal: new AbortController().signal, onMetadata: () => {}, share: { from, end, align: from > 0 } };
  for await (const chunk of readNdjson(input(), options)) chunks.push(chunk);
  return chunks;
}

describe('the library\'s shard option', () => {
  test('two shards of a store without splits copy it whole between them, each saying how; progress has no whole-collection counts', async () => {
    const from = memoryStore('shard-lib-from');
    from.set('agents', new Map(Array.from({ length: 300 }, (_, i) => [`a${i}`, { _id: `a${i}`, n: i }])));
    const reports = [];
    for (const index of [0, 1]) {
      const warnings: string[] = [];
      const expected: Record<string, number>[] = [];
      reports.push(await migrate({ from: 'memory:shard-lib-from', to: 'memory:shard-lib-to', shard: { index, count: 2 }, warn: (m) => warnings.push(m), onProgress: (p) => expected.push(p.expected) }));
      expect(warnings).toEqual([expect.stringMatching(new RegExp(`^--shard ${index}/2: memory:shard-lib-from has no native split point, so every shard reads all of it`))]);
      expect(expected.at(-1)).toEqual({});
    }
    expect(reports.map((r) => r.shard)).toEqual([{ index: 0, count: 2 }, { index: 1, count: 2 }]);
    expect(reports[0]!.total.written + reports[1]!.total.written).toBe(300);
    expect(reports[0]!.total.written).toBeGreaterThan(100);
    expect([...memoryStore('shard-lib-to').get('agents')!.keys()].sort()).toEqual([...from.get('agents')!.keys()].sort());
  });

  test('a shard that is neither { index, count } nor a string is refused by the option check', async () => {
    const error = await failure(() => migrate({ from: 'memory', to: 'null', shard: 2 as never }));
    expect(error.message).toBe("migrate: option \"shard\" must be { index, count } or a string like '2/4' or 'auto/4', not the number 2");
    expect((await failure(() => migrate({ from: 'memory', to: 'null', shard: 'auto/2', env: {} }))).message).toMatch(/neither JOB_COMPLETION_INDEX/);
  });
});
