import { expect } from 'vitest';
import { EtlError } from '../src/errors.js';
import type { AdapterOptions } from '../src/types.js';

/** Adapter options for tests: defaults, overridable, warnings collected instead of printed. */
export function testAdapterOptions(overrides: Partial<AdapterOptions> = {}): AdapterOptions & { warnings: string[] } {
  const warnings: string[] = [];
  return { onConflict: 'overwrite', env: {}, retries: 3, warn: (m) => warnings.push(m), warnings, ...overrides };
}

/** The EtlError a call fails with (the test fails when it does not fail, or fails otherwise). */
export async function failure(run: () => Promise<unknown>): Promise<EtlError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(EtlError);
    return error as EtlError;
  }
  throw new Error('expected a failure');
}
