/**
 * `-` names stdin or stdout, and so does `-` with a format suffix (`-.ndjson`, `-.json.gz`), which
 * says in what format stdout is written: one rule for the file store, the CLI and the registry.
 */
export function isStdioName(path: string): boolean {
  return path === '/dev/stdout' || /^-(\.(json|ndjson|jsonl)(\.gz)?)?$/i.test(path);
}
