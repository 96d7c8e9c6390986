/** What a file's name says of its format: `.json`, `.ndjson`/`.jsonl`, each optionally `.gz`. */
export type FileFormat = 'json' | 'ndjson';

export function formatFromName(path: string): { format?: FileFormat; gzip: boolean } {
  const gzip = /\.gz$/i.test(path);
  const base = gzip ? path.slice(0, -3) : path;
  if (/\.json$/i.test(base)) return { format: 'json', gzip };
  if (/\.(ndjson|jsonl)$/i.test(base)) return { format: 'ndjson', gzip };
  return { gzip };
}
