import type { AdapterOptions } from '../src/types.js';

/** Adapter options for tests: defaults, overridable, warnings collected instead of printed. */
export function testAdapterOptions(overrides: Partial<AdapterOptions> = {}): AdapterOptions & { warnings: string[] } {
  const warnings: string[] = [];
  return { onConflict: 'overwrite', env: {}, retries: 3, warn: (m) => warnings.push(m), warnings, ...overrides };
}
