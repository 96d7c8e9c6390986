/**
 * Other tools' backups, written as their documentation describes them:
 *
 * - a DynamoDB export to S3, laid out as AWS's "DynamoDB table export output format" page shows it:
 *   `AWSDynamoDB/<ExportId>/` with `manifest-summary.json` (its documented fields),
 *   `manifest-files.json` (a line per data file: itemCount, md5Checksum, etag, dataFileS3Key),
 *   their checksum files, the empty `_started` marker, and `data/<name>.json.gz` of
 *   `{"Item": {…}}` lines in DynamoDB JSON;
 * - a node-firestore-import-export file, from its README's "Data Format" and "Special Datatypes":
 *   nested `__collections__`, tagged timestamps, geopoints and document references.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { DynamoItem } from '../src/formats/dynamodb-json.js';
import { ExactNumber } from '../src/formats/exact-number.js';
import type { Doc } from '../src/types.js';

export interface DynamoExportFixture {
  /** The folder holding `AWSDynamoDB/` (what `aws s3 sync s3://bucket/prefix .` gives). */
  root: string;
  /** `root/AWSDynamoDB/<ExportId>`, the export's own folder. */
  folder: string;
  /** The data files, in the manifest's order. */
  dataFiles: string[];
  /** manifest-files.json as written. */
  manifestFiles: string;
}

/** Items in DynamoDB JSON and the documents they are: every attribute type, exact numbers. */
export function dynamoItems(): { items: DynamoItem[]; docs: Doc[] } {
  return {
    items: [
      {
        _id: { S: 'agent-1' },
        name: { S: 'Résumé screener 🤖' },
        description: { S: '' },
        temperature: { N: '0.7' },
        tokens: { N: '9007199254740993' },
        credit: { N: '0.10000000000000000001' },
        tools: { M: { search: { M: { enabled: { BOOL: true }, params: { M: {} } } } } },
        tags: { L: [] },
        owner: { NULL: true },
        history: { L: [{ N: '1' }, { L: [{ S: 'deep' }, { BOOL: false }] }] },
      },
      { _id: { S: 'agent-2' }, models: { SS: ['gpt', 'claude'] }, limits: { NS: ['1', '2.5', '12345678901234567890'] }, key: { B: 'AAECAw==' }, keys: { BS: ['AA==', 'AQ=='] } },
      { version: { N: '-3' }, _id: { S: 'agent with spaces & symbols/é' } },
    ],
    docs: [
      {
        _id: 'agent-1',
        name: 'Résumé screener 🤖',
        description: '',
        temperature: 0.7,
        tokens: new ExactNumber('9007199254740993'),
        credit: new ExactNumber('0.10000000000000000001'),
        tools: { search: { enabled: true, params: {} } },
        tags: [],
        owner: null,
        history: [1, ['deep', false]],
      },
      { _id: 'agent-2', models: ['gpt', 'claude'], limits: [1, 2.5, new ExactNumber('12345678901234567890')], key: 'AAECAw==', keys: ['AA==', 'AQ=='] },
      { _id: 'agent with spaces & symbols/é', version: -3 },
    ],
  };
}

const md5 = (bytes: Buffer) => createHash('md5').update(bytes);

/**
 * Writes an export of `table` under `root`: the items spread over data files (the last one empty,
 * as an empty partition gives), each gzipped. `summary` overrides fields of manifest-summary.json.
 */
export function writeDynamoExport(root: string, table: string, items: DynamoItem[], options: { exportId?: string; summary?: Record<string, unknown> } = {}): DynamoExportFixture {
  const exportId = options.exportId ?? '01767168000000-a1b2c3d4';
  const prefix = 'backups';
  const key = `${prefix}/AWSDynamoDB/${exportId}`;
  const folder = join(root, 'AWSDynamoDB', exportId);
  mkdirSync(join(folder, 'data'), { recursive: true });
  const split = Math.ceil(items.length / 2);
  const parts = [items.slice(0, split), items.slice(split), []];
  const dataFiles: string[] = [];
  const manifestLines = parts.map((part, i) => {
    const name = `${['ab12cd34ef56gh78', 'ij90kl12mn34op56', 'qr78st90uv12wx34'][i]}.json.gz`;
    const gz = gzipSync(part.map((Item) => JSON.stringify({ Item }) + '\n').join(''));
    const path = join(folder, 'data', name);
    writeFileSync(path, gz);
    dataFiles.push(path);
    return JSON.stringify({ itemCount: part.length, md5Checksum: md5(gz).digest('base64'), etag: `${md5(gz).digest('hex')}-1`, dataFileS3Key: `${key}/data/${name}` });
  });
  const manifestFiles = manifestLines.join('\n') + '\n';
  writeFileSync(join(folder, 'manifest-files.json'), manifestFiles);
  writeFileSync(join(folder, 'manifest-files.md5'), md5(Buffer.from(manifestFiles)).digest('hex'));
  const summary = JSON.stringify({
    version: '2023-08-01',
    exportArn: `arn:aws:dynamodb:us-east-1:123456789012:table/${table}/export/${exportId}`,
    startTime: '2026-01-11T10:00:00.000Z',
    endTime: '2026-01-11T10:05:00.000Z',
    tableArn: `arn:aws:dynamodb:us-east-1:123456789012:table/${table}`,
    tableId: '12345a12-abcd-123a-ab12-1234abc12345',
    exportTime: '2026-01-11T10:00:00.000Z',
    s3Bucket: 'gofannon-backups',
    s3Prefix: prefix,
    s3SseAlgorithm: 'AES256',
    s3SseKmsKeyId: null,
    manifestFilesS3Key: `${key}/manifest-files.json`,
    billedSizeBytes: 0,
    itemCount: items.length,
    outputFormat: 'DYNAMODB_JSON',
    exportType: 'FULL_EXPORT',
    ...options.summary,
  });
  writeFileSync(join(folder, 'manifest-summary.json'), summary);
  writeFileSync(join(folder, 'manifest-summary.md5'), md5(Buffer.from(summary)).digest('hex'));
  writeFileSync(join(folder, '_started'), '');
  return { root, folder, dataFiles, manifestFiles };
}

/** node-firestore-import-export's tags, as its README spells them. */
export const firestoreTimestamp = (seconds: number, nanoseconds: number) => ({ __datatype__: 'timestamp', value: { _seconds: seconds, _nanoseconds: nanoseconds } });
export const firestoreGeopoint = (latitude: number, longitude: number) => ({ __datatype__: 'geopoint', value: { _latitude: latitude, _longitude: longitude } });
export const firestoreReference = (path: string) => ({ __datatype__: 'documentReference', value: path });

/** A whole-database export of Gofannon-like collections, and the documents it holds for us. */
export function firestoreExport(): { file: unknown; docs: Record<string, Doc[]> } {
  const file = {
    __collections__: {
      users: {
        'uid-1': {
          basicInfo: { displayName: 'Ada', email: 'ada@example.com' },
          createdAt: firestoreTimestamp(1767168000, 5_000_000),
          usageInfo: { spendRemaining: 12.34, usage: [{ timestamp: firestoreTimestamp(1767171600, 123_456_789), responseCost: 0.01 }] },
          lastSeenAt: firestoreGeopoint(51.5, -0.12),
          __collections__: {},
        },
        'uid-2': { _id: 'uid-2', _rev: null, basicInfo: { displayName: '日本', email: '' }, __collections__: {} },
      },
      deployments: {
        'my-agent': { agentId: firestoreReference('agents/agent-1'), __collections__: {} },
      },
      demos: {},
    },
  };
  const docs: Record<string, Doc[]> = {
    users: [
      {
        _id: 'uid-1',
        basicInfo: { displayName: 'Ada', email: 'ada@example.com' },
        createdAt: '2025-12-31T08:00:00.005Z',
        usageInfo: { spendRemaining: 12.34, usage: [{ timestamp: '2025-12-31T09:00:00.123456789Z', responseCost: 0.01 }] },
        lastSeenAt: { latitude: 51.5, longitude: -0.12 },
      },
      { _id: 'uid-2', _rev: null, basicInfo: { displayName: '日本', email: '' } },
    ],
    deployments: [{ _id: 'my-agent', agentId: 'agents/agent-1' }],
    demos: [],
  };
  return { file, docs };
}
