/**
 * The package as a library user imports it (`gofannon-etl`, resolved to the built dist/ through
 * the package's own exports), with the README's typed example of chaining transforms.
 */
import { expect, test } from 'vitest';
import { ExactNumber, memoryStore, migrate, stringifyExact, verify, type Doc, type Transform } from 'gofannon-etl';

test('migrate and verify from the package entry, with typed custom transforms', async () => {
  const users = new Map<string, Doc>([
    ['u1', { _id: 'u1', basicInfo: { email: 'ada@example.com' }, credits: new ExactNumber('9007199254740993'), _rev: '4-x' }],
    ['u2', { _id: 'u2', basicInfo: { email: 'bot@example.test' } }],
  ]);
  memoryStore('library-from').set('users', users);

  const dropTestUsers: Transform = (doc, { collection }) =>
    collection === 'users' && String((doc.basicInfo as Doc | undefined)?.email).endsWith('@example.test') ? null : doc;
  const stampMigration: Transform = async (doc) => ({ ...doc, migrated_at: '2026-11-24T00:00:00Z' });

  const report = await migrate({ from: 'memory:library-from', to: 'memory:library-to', transforms: ['float-to-decimal', dropTestUsers, stampMigration] });
  expect(report.ok).toBe(true);
  expect(report.collections.users).toEqual({ read: 2, written: 1, skipped: 0, dropped: 1, failed: 0 });
  const copied = memoryStore('library-to').get('users')!.get('u1')!;
  expect(stringifyExact(copied)).toBe('{"_id":"u1","basicInfo":{"email":"ada@example.com"},"credits":9007199254740993,"migrated_at":"2026-11-24T00:00:00Z"}');

  const check = await verify({ from: 'memory:library-from', to: 'memory:library-to', transforms: [dropTestUsers, stampMigration] });
  expect(check.identical).toBe(true);
});
