import { ExactNumber } from '../src/formats/exact-number.js';
import type { Doc } from '../src/types.js';

/**
 * The shared round-trip corpus: what every store must carry unchanged. Unicode, nesting, empty
 * strings, empty maps and lists, nulls, booleans, floats, and integers beyond 2^53.
 */
export function corpus(): Record<string, Doc[]> {
  return {
    agents: [
      {
        _id: 'agent-1',
        name: 'Résumé screener 🤖',
        description: '',
        tools: { search: { enabled: true, params: {} }, 'web.fetch': { enabled: false, params: { timeout: 30 } } },
        tags: [],
        temperature: 0.7,
        max_tokens: 4096,
        owner: null,
        nested: { a: { b: { c: { d: [1, [2, [3, { e: 'deep' }]]] } } } },
      },
      { _id: 'agent-2', name: '日本語のエージェント', code: 'def run():\n\treturn "ok"\n', version: 3, ratio: -0.125 },
      { _id: 'agent with spaces & symbols/é', name: 'quoted "name" \\ backslash', emoji: '👩‍💻' },
    ],
    users: [
      {
        _id: 'user-1',
        email: 'ada@example.com',
        api_keys: { openai: 'sk-test-not-a-real-key', anthropic: '' },
        usage: { tokens: new ExactNumber('9007199254740993'), cost: 12.34, credits: new ExactNumber('-9223372036854775808') },
        active: true,
        admin: false,
      },
      { _id: 'user-2', email: 'bob@example.com', usage: { tokens: 0, cost: 0.1 }, roles: ['viewer', 'editor'] },
    ],
    sessions: [
      { _id: 'session-1', user_id: 'user-1', created_at: '2026-01-11T10:00:00.000Z', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }] },
    ],
    tickets: [{ _id: 'ticket-1', title: 'Broken', priority: 1, big: new ExactNumber('9223372036854775807'), closed: null }],
  };
}

/** Corpus without integers beyond 2^53: for a JavaScript server (pouchdb-server) that cannot hold them. */
export function corpusWithoutBigIntegers(): Record<string, Doc[]> {
  const all = corpus();
  const strip = (value: unknown): unknown => {
    if (value instanceof ExactNumber) return undefined;
    if (Array.isArray(value)) return value.map(strip);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).flatMap(([k, v]) => (strip(v) === undefined ? [] : [[k, strip(v)]])));
    }
    return value;
  };
  return Object.fromEntries(Object.entries(all).map(([c, docs]) => [c, docs.map((d) => strip(d) as Doc)]));
}

export function sortById(docs: Doc[]): Doc[] {
  return [...docs].sort((a, b) => String(a._id).localeCompare(String(b._id)));
}

/** A short random prefix, so tests sharing one server never see each other's collections. */
export function uniquePrefix(): string {
  return `t${Math.random().toString(36).slice(2, 8)}`;
}
