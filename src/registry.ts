/**
 * Stores by URI scheme: one line per store, naming its two halves (null is a target only). Each
 * half's module is imported only when used, so the AWS, Google and CouchDB SDKs load only for runs
 * that need them.
 */
import { isStdioName } from './util/stdio-name.js';
import { usageError } from './errors.js';
import type { AdapterOptions, ParsedUri, Sink, SinkFactory, Source, SourceFactory } from './types.js';

type Loader<T> = () => Promise<{ default: T }>;

interface Store {
  source?: Loader<SourceFactory>;
  sink?: Loader<SinkFactory>;
}

const store = (source: Loader<SourceFactory> | undefined, sink: Loader<SinkFactory>): Store => ({ source, sink });

const couchdb = store(() => import('./sources/couchdb.js'), () => import('./sinks/couchdb.js'));

const stores: Record<string, Store> = {
  file: store(() => import('./sources/file.js'), () => import('./sinks/file.js')),
  memory: store(() => import('./sources/memory.js'), () => import('./sinks/memory.js')),
  null: store(undefined, () => import('./sinks/null.js')),
  couchdb,
  couchdbs: couchdb,
  dynamodb: store(() => import('./sources/dynamodb.js'), () => import('./sinks/dynamodb.js')),
  firestore: store(() => import('./sources/firestore.js'), () => import('./sinks/firestore.js')),
};

export const sourceSchemes = Object.keys(stores).filter((scheme) => stores[scheme]!.source);
export const sinkSchemes = Object.keys(stores).filter((scheme) => stores[scheme]!.sink);

/**
 * `file:backup.json`, `couchdb`, `couchdb://user:pass@host:5984`, `dynamodb://localhost:8000`.
 * A bare path ending in .json/.ndjson/.jsonl/.gz is taken as a file for convenience.
 */
export function parseUri(raw: string): ParsedUri {
  const match = /^([a-z][a-z0-9+.-]*):(.*)$/is.exec(raw);
  if (match && !/^[a-z]:[\\/]/i.test(raw)) return { scheme: match[1]!.toLowerCase(), rest: match[2]!, raw };
  if (/^[a-z][a-z0-9-]*$/i.test(raw)) return { scheme: raw.toLowerCase(), rest: '', raw };
  if (/\.(json|ndjson|jsonl)(\.gz)?$/i.test(raw) || isStdioName(raw)) return { scheme: 'file', rest: raw, raw };
  throw usageError('bad-uri', `cannot read "${raw}" as a store: use scheme:… (${sourceSchemes.join(', ')})`);
}

/** `file:-` (or `-`): stdin as a source, stdout as a target. */
export function isStdio(uri: string): boolean {
  return isStdioName(uri.replace(/^file:/i, ''));
}

/** Whether a target keeps what it was given, so it can be read back (verify): not null, not stdout. */
export function keepsData(uri: string): boolean {
  return uri !== 'null' && !isStdio(uri);
}

export async function openSource(raw: string, options: AdapterOptions): Promise<Source> {
  const uri = parseUri(raw);
  const load = stores[uri.scheme]?.source;
  if (!load) throw usageError('unknown-scheme', `unknown source "${uri.scheme}": known sources are ${sourceSchemes.join(', ')}`);
  return (await load()).default(uri, options);
}

export async function openSink(raw: string, options: AdapterOptions): Promise<Sink> {
  const uri = parseUri(raw);
  const load = stores[uri.scheme]?.sink;
  if (!load) throw usageError('unknown-scheme', `unknown target "${uri.scheme}": known targets are ${sinkSchemes.join(', ')}`);
  return (await load()).default(uri, options);
}
