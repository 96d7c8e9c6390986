import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test, vi } from 'vitest';
import { EtlError } from '../src/errors.js';
import { ExactNumber } from '../src/formats/exact-number.js';
import { memoryStore } from '../src/stores/memory/store.js';
import { migrate } from '../src/pipeline.js';
import type { Doc, Position, Sink, Source, SourceChunk, WriteOutcome } from '../src/types.js';
import { uniquePrefix } from './corpus.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'pipeline-'));

/** A source of `count` docs in chunks of `chunkSize`, counting how far it has been pulled. */
function countingSource(count: number, chunkSize: number, collection = 'agents') {
  const state = { pulled: 0 };
  const source: Source = {
    label: 'fake',
    provider: 'fake',
    identity: async () => 'fake',
    listCollections: async () => [collection],
    async *read({ resumeFrom }): AsyncIterable<SourceChunk> {
      const start = (resumeFrom?.next as number | undefined) ?? 0;
      yield { collection, docs: [] };
      for (let i = start; i < count; i += chunkSize) {
        const docs = Array.from({ length: Math.min(chunkSize, count - i) }, (_, k) => ({ _id: `d${i + k}`, n: i + k }));
        state.pulled = i + docs.length;
        yield { collection, docs, position: { next: i + docs.length } };
      }
    },
    close: async () => {},
  };
  return { source, state };
}

/** A sink whose writes take `delay(batchNo)` ms, or until the promise it returns settles, recording what it got. */
function slowSink(options: { batchSize: number; concurrency: number; delay: (batchNo: number) => number | Promise<void> }) {
  const written: Doc[] = [];
  let batches = 0;
  let inFlight = 0;
  const state = { maxInFlight: 0, written, pulledAtWrite: [] as number[] };
  const sink: Sink = {
    label: 'slow',
    provider: 'slow',
    batchSize: options.batchSize,
    concurrency: options.concurrency,
    identity: async () => 'slow',
    prepare: async () => {},
    async write(_c, docs): Promise<WriteOutcome[]> {
      const no = batches++;
      inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, inFlight);
      const delay = options.delay(no);
      await (typeof delay === 'number' ? new Promise((r) => setTimeout(r, delay)) : delay);
      inFlight--;
      written.push(...docs);
      return docs.map(() => ({ status: 'written' }));
    },
    close: async () => {},
  };
  return { sink, state };
}

describe('migrate', () => {
  test('copies memory to memory, stripping CouchDB metadata by default', async () => {
    const from = uniquePrefix();
    const to = uniquePrefix();
    memoryStore(from).set('agents', new Map([['a', { _id: 'a', _rev: '1-x', _attachments: {}, name: 'A' }]]));
    memoryStore(from).set('users', new Map([['u', { _id: 'u', big: new ExactNumber('9007199254740993') }]]));
    const report = await migrate({ from: `memory:${from}`, to: `memory:${to}` });
    expect(report.ok).toBe(true);
    expect(report.collections).toEqual({
      agents: { read: 1, written: 1, skipped: 0, dropped: 0, failed: 0, deleted: 0 },
      users: { read: 1, written: 1, skipped: 0, dropped: 0, failed: 0, deleted: 0 },
    });
    expect(memoryStore(to).get('agents')!.get('a')).toEqual({ _id: 'a', name: 'A' });
    expect(memoryStore(to).get('users')!.get('u')).toEqual({ _id: 'u', big: new ExactNumber('9007199254740993') });
  });

  test('keeps CouchDB metadata when the default transforms are off, and selects collections', async () => {
    const from = uniquePrefix();
    const to = uniquePrefix();
    memoryStore(from).set('agents', new Map([['a', { _id: 'a', _rev: '1-x' }]]));
    memoryStore(from).set('users', new Map([['u', { _id: 'u' }]]));
    await migrate({ from: `memory:${from}`, to: `memory:${to}`, noDefaultTransforms: true, collections: ['agents'] });
    expect([...memoryStore(to).keys()]).toEqual(['agents']);
    expect(memoryStore(to).get('agents')!.get('a')).toEqual({ _id: 'a', _rev: '1-x' });
  });

  test('chains transforms in order: drop, split, async, context', async () => {
    const from = uniquePrefix();
    const to = uniquePrefix();
    memoryStore(from).set('agents', new Map([['a', { _id: 'a' }], ['b', { _id: 'b' }], ['c', { _id: 'c' }]]));
    const seen: string[] = [];
    const report = await migrate({
      from: `memory:${from}`,
      to: `memory:${to}`,
      transforms: [
        (doc) => (doc._id === 'b' ? null : doc),
        (doc) => (doc._id === 'c' ? [doc, { ...doc, _id: 'c2' }] : doc),
        async (doc, ctx) => {
          seen.push(`${ctx.collection}:${ctx.source}->${ctx.target}`);
          return { ...doc, tagged: true };
        },
      ],
    });
    expect(report.collections.agents).toEqual({ read: 3, written: 3, skipped: 0, dropped: 1, failed: 0, deleted: 0 });
    expect([...memoryStore(to).get('agents')!.keys()].sort()).toEqual(['a', 'c', 'c2']);
    expect(memoryStore(to).get('agents')!.get('c2')).toEqual({ _id: 'c2', tagged: true });
    expect(seen[0]).toBe(`agents:memory:${from}->memory:${to}`);
  });

  test('dead-letters bad documents with reasons and goes on', async () => {
    const dir = tmp();
    const deadLetter = join(dir, 'dead.ndjson');
    const docs: unknown[] = [{ _id: 'ok1' }, { name: 'no id' }, 42, { _id: 7 }, { _id: 'boom' }, { _id: 'rejected' }, { _id: 'ok2' }];
    const source: Source = {
      label: 'fake', provider: 'fake', identity: async () => 'f', listCollections: async () => ['agents'],
      async *read() {
        yield { collection: 'agents', docs, where: (i: number) => `item ${i}` };
      },
      close: async () => {},
    };
    const to = uniquePrefix();
    const base = (await import('../src/sinks/memory.js')).default({ scheme: 'memory', rest: to, raw: '' }, { onConflict: 'overwrite', env: {}, retries: 0, warn: () => {} });
    const sink: Sink = { ...base, check: (doc) => (doc._id === 'rejected' ? 'too large for the target' : undefined) };
    const warnings: string[] = [];
    const report = await migrate({
      from: source, to: sink, deadLetter,
      transforms: [(doc) => { if (doc._id === 'boom') throw new Error('bad value'); return doc; }],
      warn: (m) => warnings.push(m),
    });
    expect(report.ok).toBe(false);
    expect(report.collections.agents).toMatchObject({ read: 7, written: 2, failed: 5 });
    expect(report.deadLetters).toEqual({ count: 5, path: deadLetter });
    const lines = readFileSync(deadLetter, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.reason)).toEqual([
      'document has no _id',
      'not a document: the value is a number',
      '_id must be a string, not a number',
      'transform function failed: bad value',
      'too large for the target',
    ]);
    expect(lines[1]).toMatchObject({ collection: 'agents', where: 'item 2', doc: 42 });
    expect(statSync(deadLetter).mode & 0o777).toBe(0o600);
    expect(warnings).toEqual([]);
  });

  test('what a transform returns is settled once: undefined is absent (null in a list); what JSON cannot hold is dead-lettered with its field', async () => {
    const deadLetter = join(tmp(), 'dead.ndjson');
    const from = uniquePrefix();
    const to = uniquePrefix();
    const ids = ['absent', 'date', 'bigint', 'nan', 'cycle', 'plain'];
    memoryStore(from).set('agents', new Map(ids.map((id) => [id, { _id: id, keep: 1 }])));
    const extras: Record<string, () => Record<string, unknown>> = {
      absent: () => ({ gone: undefined, fn: () => 1, symbol: Symbol('s'), list: [undefined, 1, () => 2], nested: { gone: undefined } }),
      date: () => ({ when: new Date(0) }),
      bigint: () => ({ deep: { list: [{ n: 10n }] } }),
      nan: () => ({ ratio: NaN }),
      cycle: () => {
        const loop: Record<string, unknown> = {};
        loop.self = loop;
        return { loop };
      },
      plain: () => ({}),
    };
    const report = await migrate({
      from: `memory:${from}`,
      to: `memory:${to}`,
      deadLetter,
      transforms: [(doc) => ({ ...doc, ...extras[doc._id as string]!() }) as unknown as Doc],
      warn: () => {},
    });
    expect(report.collections.agents).toMatchObject({ read: 6, written: 2, failed: 4 });
    expect(Object.fromEntries(memoryStore(to).get('agents')!)).toEqual({ absent: { _id: 'absent', keep: 1, list: [null, 1, null], nested: {} }, plain: { _id: 'plain', keep: 1 } });
    // The memory store reads in _id order.
    const lines = readFileSync(deadLetter, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l._id, l.reason])).toEqual([
      ['bigint', 'field deep.list[0].n: a bigint is not a JSON value (make it a number or a string)'],
      ['cycle', 'nested deeper than 512 levels'],
      ['date', 'field when: a Date is not a JSON value (return date.toISOString())'],
      ['nan', 'field ratio: NaN is not a number JSON can hold'],
    ]);
  });

  test('prints reasons when there is no dead-letter file', async () => {
    const from = uniquePrefix();
    memoryStore(from).set('agents', new Map([['x', { name: 'no id' } as Doc]]));
    const warnings: string[] = [];
    const report = await migrate({ from: `memory:${from}`, to: 'null', warn: (m) => warnings.push(m) });
    expect(report.total.failed).toBe(1);
    expect(warnings).toEqual(['failed: agents (no _id) (memory:' + from + ' agents _id x): document has no _id']);
  });

  test('per-document failures from the sink go to dead letters; the run goes on', async () => {
    const { source } = countingSource(10, 5);
    const sink: Sink = {
      label: 's', provider: 's', batchSize: 4, concurrency: 2, identity: async () => 's', prepare: async () => {},
      write: async (_c, docs) => docs.map((d) => (d.n === 3 ? { status: 'failed', reason: 'conflict' } : d.n === 4 ? { status: 'skipped', reason: 'exists' } : { status: 'written' })),
      close: async () => {},
    };
    const report = await migrate({ from: source, to: sink, warn: () => {} });
    expect(report.collections.agents).toEqual({ read: 10, written: 8, skipped: 1, dropped: 0, failed: 1, deleted: 0 });
  });

  test('a fatal sink error stops the run and carries the counts so far', async () => {
    const { source } = countingSource(100, 10);
    let calls = 0;
    let closedComplete: boolean | undefined;
    const sink: Sink = {
      label: 's', provider: 's', batchSize: 10, concurrency: 1, identity: async () => 's', prepare: async () => {},
      write: async (_c, docs) => {
        if (++calls === 3) throw new Error('connection refused');
        return docs.map(() => ({ status: 'written' as const }));
      },
      close: async (complete) => void (closedComplete = complete),
    };
    const error = await migrate({ from: source, to: sink }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EtlError);
    expect((error as EtlError).kind).toBe('fatal');
    expect((error as EtlError).message).toContain('connection refused');
    expect(((error as EtlError).report as { total: { written: number } }).total.written).toBe(20);
    expect(closedComplete).toBe(false);
  });

  test('backpressure: a slow sink holds the source back', async () => {
    const { source, state } = countingSource(2000, 10);
    const slow = slowSink({ batchSize: 20, concurrency: 2, delay: () => 5 });
    let maxAhead = 0;
    const write = slow.sink.write.bind(slow.sink);
    slow.sink.write = async (c, docs, s) => {
      maxAhead = Math.max(maxAhead, state.pulled - slow.state.written.length);
      return write(c, docs, s);
    };
    await migrate({ from: source, to: slow.sink });
    expect(slow.state.written).toHaveLength(2000);
    expect(slow.state.maxInFlight).toBe(2);
    // A pipeline that buffered would have pulled all 2000 documents before the first slow write
    // finished; this one holds at most the batches in flight, one forming and one source chunk.
    expect(maxAhead).toBeLessThanOrEqual(2 * 20 + 20 + 10);
  });

  test('the checkpoint never passes a batch that has not been acknowledged', async () => {
    const dir = tmp();
    const checkpoint = join(dir, 'run.ckpt');
    const { source } = countingSource(1000, 25);
    // Batches 0, 10, 20 and 30 are held while the eight after them are acknowledged: a naive "last
    // finished batch" checkpoint would run ahead of the held one. Gates, not timings, decide the order.
    const held = new Map<number, () => void>();
    const savedNext = () => {
      try {
        return (JSON.parse(readFileSync(checkpoint, 'utf8')) as { position: Position }).position.next as number;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
        throw e;
      }
    };
    const seen: number[] = [];
    /**
     * Reads the checkpoint for at least 50 ms while batch `blocking` is held, until a save past the
     * previous held batch has landed (at most 2 s). The real clock: Date is faked below.
     */
    const watch = async (blocking: number) => {
      const started = performance.now();
      for (;;) {
        const next = savedNext();
        seen.push(next);
        expect(next).toBeLessThanOrEqual(blocking * 25);
        const elapsed = performance.now() - started;
        if (elapsed > 50 && (blocking === 0 || next > (blocking - 10) * 25)) return;
        if (elapsed > 2000) throw new Error(`no checkpoint past batch ${blocking - 10} was saved while batch ${blocking} was held`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const slow = slowSink({
      batchSize: 25,
      concurrency: 2,
      delay: (no) => (no % 10 === 0 ? new Promise<void>((release) => held.set(no, release)) : 2),
    });
    const write = slow.sink.write.bind(slow.sink);
    let calls = 0;
    slow.sink.write = async (c, docs, s) => {
      const no = calls++;
      // The clock jumps past the 100 ms save interval at every write, so every new safe position
      // is due for a save however fast this machine happens to be.
      vi.setSystemTime(Date.now() + 1000);
      const out = await write(c, docs, s);
      if (no % 10 === 8) {
        await watch(no - 8);
        held.get(no - 8)!();
      }
      return out;
    };
    vi.useFakeTimers({ toFake: ['Date'] });
    const report = await migrate({ from: source, to: slow.sink, checkpoint }).finally(() => vi.useRealTimers());
    expect(report.ok).toBe(true);
    expect(slow.state.written).toHaveLength(1000);
    // Saves landed mid-run at the held batches' edges: 250, 500 and 750 at the latest.
    expect(new Set(seen.filter((n) => n > 0)).size).toBeGreaterThanOrEqual(3);
    const final = JSON.parse(readFileSync(checkpoint, 'utf8'));
    expect(final).toMatchObject({ complete: true, position: { next: 1000 }, source: 'fake', target: 'slow' });
    expect(statSync(checkpoint).mode & 0o777).toBe(0o600);
  });

  test('an interrupted run saves its checkpoint and --resume finishes it exactly', async () => {
    const dir = tmp();
    const checkpoint = join(dir, 'run.ckpt');
    const from = uniquePrefix();
    const to = uniquePrefix();
    memoryStore(from).set('agents', new Map(Array.from({ length: 3000 }, (_, i) => [`a${String(i).padStart(5, '0')}`, { _id: `a${String(i).padStart(5, '0')}` }])));
    memoryStore(from).set('users', new Map(Array.from({ length: 500 }, (_, i) => [`u${i}`, { _id: `u${i}` }])));
    const controller = new AbortController();
    let seen = 0;
    const first = await migrate({
      from: `memory:${from}`, to: `memory:${to}`, checkpoint, batchSize: 100, signal: controller.signal,
      transforms: [(doc) => { if (++seen === 1050) controller.abort(); return doc; }],
    });
    expect(first.interrupted).toBe(true);
    expect(first.ok).toBe(false);
    const writtenFirst = memoryStore(to).get('agents')!.size;
    expect(writtenFirst).toBeLessThan(3000);
    await expect(migrate({ from: `memory:${from}`, to: `memory:${uniquePrefix()}`, checkpoint, resume: true, batchSize: 100 })).rejects.toThrow(/belongs to another run/);
    const second = await migrate({ from: `memory:${from}`, to: `memory:${to}`, checkpoint, resume: true, batchSize: 100, transforms: [(doc) => doc] });
    expect(second.ok).toBe(true);
    expect(memoryStore(to).get('agents')!.size).toBe(3000);
    expect(memoryStore(to).get('users')!.size).toBe(500);
    // The report covers the whole migration, the first part included and named, each document counted once.
    expect(second.earlier).toEqual(first.total);
    expect(second.total).toMatchObject({ read: 3500, written: 3500 });
    // Nothing before the checkpoint is read again: only the edge overlaps.
    expect(second.collections.agents!.read - first.collections.agents!.read).toBeLessThanOrEqual(3000 - writtenFirst + 100 * 2);
    // The same run (a resume with other transforms is another run, refused as such).
    await expect(migrate({ from: `memory:${from}`, to: `memory:${to}`, checkpoint, resume: true, transforms: [(doc) => doc] })).rejects.toThrow(/already completed/);
    await expect(migrate({ from: `memory:${from}`, to: `memory:${to}`, checkpoint, resume: true })).rejects.toThrow(/its --transform was strip-couch-meta then function, this run's is strip-couch-meta/);
  });

  test('dry run writes nothing and plans what it would create', async () => {
    const from = uniquePrefix();
    const to = uniquePrefix();
    memoryStore(from).set('agents', new Map([['a', { _id: 'a' }]]));
    const report = await migrate({ from: `memory:${from}`, to: `memory:${to}`, dryRun: true });
    expect(report.dryRun).toBe(true);
    expect(report.collections.agents!.written).toBe(1);
    expect(report.plan).toEqual([{ collection: 'agents', wouldCreate: 'memory collection agents' }]);
    expect(memoryStore(to).size).toBe(0);
  });

  test('writes the report as JSON readable by its owner only', async () => {
    const dir = tmp();
    const from = uniquePrefix();
    memoryStore(from).set('agents', new Map([['a', { _id: 'a' }]]));
    const path = join(dir, 'report.json');
    await migrate({ from: `memory:${from}`, to: 'null', report: path });
    const report = JSON.parse(readFileSync(path, 'utf8'));
    expect(report.collections).toEqual({ agents: { read: 1, written: 1, skipped: 0, dropped: 0, failed: 0, deleted: 0 } });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  test('refuses bad options and unknown schemes as usage errors', async () => {
    await expect(migrate({ from: 'nosuch:x', to: 'null' })).rejects.toMatchObject({ kind: 'usage', message: expect.stringContaining('known sources are') });
    await expect(migrate({ from: 'memory', to: 'nosuch' })).rejects.toMatchObject({ kind: 'usage' });
    await expect(migrate({ from: 'memory', to: 'null', concurrency: 0 })).rejects.toMatchObject({ kind: 'usage' });
    await expect(migrate({ from: 'memory', to: 'null', resume: true })).rejects.toThrow(/--checkpoint/);
    await expect(migrate({ from: 'memory', to: 'null', transforms: ['./missing.js'] })).rejects.toThrow(/neither a built-in/);
  });

  test('loads a transform module (.mjs and .ts)', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'upper.mjs'), 'export default (doc) => ({ ...doc, name: String(doc.name).toUpperCase() });\n');
    writeFileSync(join(dir, 'tag.ts'), 'import type { Doc } from "../src/types.js";\nexport default async function tag(doc: { [k: string]: unknown }, ctx: { collection: string }) { return { ...doc, from: ctx.collection as string }; }\n');
    const from = uniquePrefix();
    const to = uniquePrefix();
    memoryStore(from).set('agents', new Map([['a', { _id: 'a', name: 'ada' }]]));
    await migrate({ from: `memory:${from}`, to: `memory:${to}`, transforms: ['./upper.mjs', './tag.ts'], cwd: dir });
    expect(memoryStore(to).get('agents')!.get('a')).toEqual({ _id: 'a', name: 'ADA', from: 'agents' });
  });
});

describe('migrate with documents written twice', () => {
  test('the later version of an _id wins although concurrent batches finish out of order', async () => {
    // _id `dup` is in the first batch and again in a later one; the first batch is the slowest.
    const docs = [{ _id: 'dup', v: 1 }, ...Array.from({ length: 9 }, (_, i) => ({ _id: `x${i}`, v: 0 })), { _id: 'dup', v: 2 }];
    const source: Source = {
      label: 'fake', provider: 'fake', identity: async () => 'f', listCollections: async () => ['agents'],
      async *read() {
        yield { collection: 'agents', docs };
      },
      close: async () => {},
    };
    const stored = new Map<string, unknown>();
    let batchNo = 0;
    const sink: Sink = {
      label: 's', provider: 's', batchSize: 2, concurrency: 4, identity: async () => 's', prepare: async () => {},
      write: async (_c, batch) => {
        await new Promise((r) => setTimeout(r, batchNo++ === 0 ? 60 : 1));
        for (const d of batch) stored.set(d._id as string, d.v);
        return batch.map(() => ({ status: 'written' as const }));
      },
      close: async () => {},
    };
    await migrate({ from: source, to: sink });
    expect(stored.get('dup')).toBe(2);
  });
});

describe('migrate owns its signals and connections', () => {
  test('a refused --resume closes source and sink', async () => {
    const dir = tmp();
    let closed = 0;
    const { source } = countingSource(10, 5);
    source.close = async () => void closed++;
    const slow = slowSink({ batchSize: 5, concurrency: 1, delay: () => 0 });
    slow.sink.close = async () => void closed++;
    await expect(migrate({ from: source, to: slow.sink, checkpoint: join(dir, 'none.ckpt'), resume: true })).rejects.toThrow(/no checkpoint/);
    expect(closed).toBe(2);
  });

  test('sixteen writes in flight, each listening to the signal, raise no listener warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    const { source } = countingSource(2000, 100);
    const sink: Sink = {
      label: 's', provider: 's', batchSize: 25, concurrency: 16, identity: async () => 's', prepare: async () => {},
      write: async (_c, docs, signal) => {
        // As an SDK call does: listen for abort while the request is out, stop listening after.
        const onAbort = () => {};
        signal.addEventListener('abort', onAbort);
        await new Promise((r) => setTimeout(r, 2));
        signal.removeEventListener('abort', onAbort);
        return docs.map(() => ({ status: 'written' as const }));
      },
      close: async () => {},
    };
    await migrate({ from: source, to: sink });
    await new Promise((r) => setImmediate(r));
    process.off('warning', onWarning);
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });
});
