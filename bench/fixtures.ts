/** What the benchmarks share: Gofannon-shaped documents, export files, timing. */
import { writeFile } from 'node:fs/promises';
import { stringifyExact } from '../src/formats/serialize.js';

/** Gofannon-shaped documents, deterministic, with some unicode, floats and nesting. */
export function makeDoc(collection: string, i: number): Record<string, unknown> {
  switch (collection) {
    case 'agents':
      return {
        _id: `agent-${i}`,
        name: `Agent ${i} – résumé screener`,
        description: 'Screens incoming résumés against the role description and drafts a summary for the hiring manager.',
        owner: `user-${i % 997}`,
        created_at: new Date(1_760_000_000_000 + i * 60_000).toISOString(),
        temperature: (i % 10) / 10,
        max_tokens: 1024 + (i % 8) * 512,
        tools: { search: { enabled: i % 2 === 0, params: { top_k: 5 } }, 'web.fetch': { enabled: true, params: { timeout: 30 } } },
        tags: ['hr', 'screening', i % 3 === 0 ? 'beta' : 'stable'],
        code: `def run(ctx):\n    return ctx.llm.complete(prompt=ctx.input, max_tokens=${i % 4096})\n`,
      };
    case 'users':
      return {
        _id: `user-${i}`,
        email: `user${i}@example.com`,
        display_name: `Użytkownik ${i} 🙂`,
        api_keys: { openai: `sk-test-${(i * 7919).toString(36)}`, anthropic: '' },
        usage: { tokens: i * 1234, cost: Math.round(i * 1.37) / 100, credits: 100 - (i % 100) },
        active: i % 5 !== 0,
        roles: i % 10 === 0 ? ['admin', 'editor'] : ['viewer'],
      };
    default:
      return {
        _id: `session-${i}`,
        user_id: `user-${i % 5000}`,
        agent_id: `agent-${i % 2000}`,
        created_at: new Date(1_760_000_000_000 + i * 1000).toISOString(),
        messages: [
          { role: 'user', content: `Please review candidate #${i} for the backend role.` },
          { role: 'assistant', content: 'The candidate has five years of TypeScript and led a migration to Postgres. Strong fit; ask about on-call experience.', tokens: 41 },
          { role: 'user', content: 'Merci ! Draft the invite e-mail.' },
        ],
        cost: { input: 0.0012 * (i % 50), output: 0.0031 },
      };
  }
}

/** `count` documents cycling through agents, users and sessions shapes, with unique ids. */
export function mixedDocs(count: number): Record<string, unknown>[] {
  const kinds = ['agents', 'users', 'sessions'];
  return Array.from({ length: count }, (_, i) => makeDoc(kinds[i % 3]!, i));
}

/** An export in export.py's format (indent 2), read by `ours` in every benchmark. */
export async function writeExport(path: string, data: Record<string, unknown[]>): Promise<void> {
  const metadata = { provider: 'memory', exported_at: new Date().toISOString(), collections: Object.keys(data) };
  await writeFile(path, stringifyExact({ metadata, data }, 2), { mode: 0o600 });
}

/** Seconds `run` takes. */
export async function seconds(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return (performance.now() - started) / 1000;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
}
