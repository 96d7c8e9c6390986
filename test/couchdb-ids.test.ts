/** The CouchDB sink lists a database's ids (Sink.ids, for a feed that compares after a restart), against pouchdb-server. */
import { expect, inject, test } from 'vitest';
import couchdbSink from '../src/sinks/couchdb.js';
import { openCouch } from '../src/stores/couchdb/client.js';
import { resolveEndpoint } from '../src/stores/couchdb/endpoint.js';
import { databaseIds } from '../src/stores/couchdb/ids.js';
import { uniquePrefix } from './corpus.js';
import { testAdapterOptions } from './helpers.js';
import { basicAuthorization } from './servers/couchdb.js';

const couchdbUrl = inject('couchdbUrl');
const couchdbAuthUrl = inject('couchdbAuthUrl');
const uri = { scheme: 'couchdb', rest: couchdbAuthUrl.replace(/^http:/, ''), raw: couchdbAuthUrl.replace(/^http:/, 'couchdb:') };
const signal = new AbortController().signal;

async function collect(batches: AsyncIterable<string[]>): Promise<string[][]> {
  const all: string[][] = [];
  for await (const batch of batches) all.push(batch);
  return all;
}

test('every id of a database, page by page, design documents left out; none for a missing database', async () => {
  const collection = `${uniquePrefix()}_ids`;
  const sink = await couchdbSink(uri, testAdapterOptions());
  await sink.prepare(collection);
  const ids = ['a', 'b', 'c', 'd', 'e'];
  await sink.write(collection, ids.map((_id) => ({ _id, v: 1 })), signal);
  const design = await fetch(`${couchdbUrl}/${collection}/_design/app`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: basicAuthorization() }, body: '{"views":{}}' });
  expect(design.status).toBe(201);

  expect((await collect(sink.ids!(collection, signal))).flat()).toEqual(ids);
  // Pages of two: each starts again at the last id of the one before, which is not repeated; the
  // design document (first in CouchDB's order) takes a place in the first page and is left out.
  const couch = openCouch(resolveEndpoint(uri, {}));
  const pages = await collect(databaseIds(couch, collection, (run) => run(), signal, 2));
  expect(pages).toEqual([['a'], ['b', 'c'], ['d', 'e']]);

  expect(await collect(sink.ids!(`${uniquePrefix()}_missing`, signal))).toEqual([]);
  await sink.close(true);
});
