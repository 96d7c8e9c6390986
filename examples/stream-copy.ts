// CouchDB to DynamoDB through a Node stream of your own, each store configured as the Gofannon app
// configures it (COUCHDB_URL, COUCHDB_USER, COUCHDB_PASSWORD; DYNAMODB_REGION, DYNAMODB_ENDPOINT_URL):
//   node --import tsx examples/stream-copy.ts
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { readDocuments, writeDocuments, type DocumentRecord } from 'gofannon-etl';

const stampMigration = new Transform({
  objectMode: true,
  transform({ collection, doc }: DocumentRecord, _encoding, done) {
    done(null, { collection, doc: { ...doc, migratedAt: new Date().toISOString() } });
  },
});

const target = writeDocuments('dynamodb', { deadLetter: 'failed.ndjson' });    // refused documents, with reasons
await pipeline(readDocuments('couchdb', { collections: ['agents', 'users'] }), stampMigration, target);

const report = await target.report;
console.log(`${report.total.written} written, ${report.total.failed} failed`);
