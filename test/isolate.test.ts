import { expect, test } from 'vitest';
import { writeIsolating } from '../src/stores/common/isolate.js';

test('halves a refused group until each bad item stands alone; the rest are written', async () => {
  const written: number[] = [];
  const blamed: number[] = [];
  let attempts = 0;
  const items = Array.from({ length: 25 }, (_, i) => i);
  await writeIsolating(
    items,
    async (group) => {
      attempts++;
      if (group.includes(7) || group.includes(19)) throw new Error('refused');
      written.push(...group);
    },
    () => true,
    (item) => blamed.push(item),
  );
  expect(blamed).toEqual([7, 19]);
  expect(written.sort((a, b) => a - b)).toEqual(items.filter((i) => i !== 7 && i !== 19));
  expect(attempts).toBeLessThanOrEqual(2 * 2 * Math.ceil(Math.log2(25)) + 1);
});

test('an error that is not a refusal stops at once', async () => {
  let attempts = 0;
  const fatal = new Error('unreachable');
  await expect(writeIsolating([1, 2, 3, 4], async () => { attempts++; throw fatal; }, (e) => e !== fatal, () => {})).rejects.toBe(fatal);
  expect(attempts).toBe(1);
});
