import { expect } from 'vitest';
import { EtlError } from '../src/errors.js';
import type { AdapterOptions } from '../src/types.js';

/**
 * DynamoDB Local keeps one database per access key and region. In-process tests reach it without
 * keys, so the adapters sign with their dummy ones (`local`); this is the region they and the raw
 * test clients share. CLI runs get the same key explicitly (see cleanEnv).
 */
export const localDynamoEnv = { DYNAMODB_REGION: 'us-east-1' };

/** Adapter options for tests: defaults, overridable, warnings collected instead of printed. */
export function testAdapterOptions(overrides: Partial<AdapterOptions> = {}): AdapterOptions & { warnings: string[] } {
  const warnings: string[] = [];
  return { onConflict: 'overwrite', env: { ...localDynamoEnv }, retries: 3, warn: (m) => warnings.push(m), warnings, ...overrides };
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
