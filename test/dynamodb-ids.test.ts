/** The DynamoDB sink lists a table's ids (Sink.ids, for a feed that compares after a restart), against DynamoDB Local. */
import { inject, expect, test } from 'vitest';
import dynamodbSink from '../src/sinks/dynamodb.js';
import { uniquePrefix } from './corpus.js';
import { testAdapterOptions } from './helpers.js';

const url = inject('dynamodbUrl');
const uri = { scheme: 'dynamodb', rest: url.replace(/^http:/, ''), raw: url.replace(/^http:/, 'dynamodb:') };
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

test('every id of a table, page by page, and none for a table that does not exist', async () => {
  const sink = await dynamodbSink(uri, testAdapterOptions());
  const collection = `${uniquePrefix()}_ids`;
  await sink.prepare(collection);
  // A Scan page ends after 1 MB of items read, whatever is projected: 60 documents of 60 KB take several pages.
  const docs = Array.from({ length: 60 }, (_, i) => ({ _id: `d${i}`, text: 'x'.repeat(60_000) }));
  for (let i = 0; i < docs.length; i += 25) await sink.write(collection, docs.slice(i, i + 25), new AbortController().signal);
  const batches: string[][] = [];
  for await (const batch of sink.ids!(collection, new AbortController().signal)) batches.push(batch);
  expect(batches.length).toBeGreaterThan(1);
  expect(batches.flat().sort()).toEqual(docs.map((d) => d._id).sort());

  const none: string[][] = [];
  for await (const batch of sink.ids!(`${uniquePrefix()}_missing`, new AbortController().signal)) none.push(batch);
  expect(none).toEqual([]);
  await sink.close(true);
});
