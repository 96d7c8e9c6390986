/**
 * One GetRecords page of a shard as the chunks a change feed yields: per `_id` only its last
 * change in the page (the target need only reach the state the page ends in; the item's earlier
 * states there would be overwritten anyway), as one chunk of whole documents (NEW_IMAGE, through
 * the same decoding as a Scan, numbers exact) and one chunk of deletes. Their `_id`s differ, so
 * the two may be applied in either order. An app that writes the same items again and again would
 * otherwise cost one small chunk per run of puts or deletes (measured: 37 changes/s against a
 * writer's 135/s through the CLI to CouchDB).
 */
import type { _Record as StreamRecord } from '@aws-sdk/client-dynamodb-streams';
import { docFromItem, type DynamoItem } from '../../formats/dynamodb-json.js';
import type { RefusedEntry } from '../../types.js';

export interface RecordRun {
  docs: unknown[];
  /** Where each document came from (shard and sequence number). */
  docWhere: string[];
  deletes?: string[];
  refused?: RefusedEntry[];
  /**
   * The sequence number of the page's last record, on the page's last run only: the shard's
   * position once the run is applied. Absent on the first of two runs: until both are applied,
   * a restart reads the whole page again.
   */
  lastSequence?: string;
  /** When the page's last change was made, as the stream says (ms), for the lag. */
  lastChangeAt?: number;
}

/** `where` of each record: names the shard and sequence number, for error lines. */
export function recordRuns(records: readonly StreamRecord[], where: (record: StreamRecord) => string): RecordRun[] {
  if (records.length === 0) return [];
  const refused: RefusedEntry[] = [];
  // Map order is insertion order: deleting first puts an _id at the place of its last change.
  const last = new Map<string, StreamRecord>();
  for (const record of records) {
    const id = record.dynamodb?.Keys?._id?.S;
    if (id === undefined) {
      refused.push({ doc: record.dynamodb?.Keys, reason: `a ${record.eventName} record without a string _id key: the table is not in Gofannon's layout`, where: where(record) });
      continue;
    }
    last.delete(id);
    last.set(id, record);
  }
  const puts: RecordRun = { docs: [], docWhere: [] };
  const deletes: RecordRun = { docs: [], docWhere: [], deletes: [] };
  for (const [id, record] of last) {
    if (record.eventName === 'REMOVE') deletes.deletes!.push(id);
    else if (record.dynamodb?.NewImage) {
      puts.docs.push(docFromItem(record.dynamodb.NewImage as DynamoItem));
      puts.docWhere.push(where(record));
    } else refused.push({ doc: record.dynamodb?.Keys, reason: `a ${record.eventName} record without its new image`, where: where(record) });
  }
  const runs = [puts, deletes].filter((run) => run.docs.length > 0 || (run.deletes?.length ?? 0) > 0);
  if (runs.length === 0) runs.push(puts);
  if (refused.length > 0) runs[0]!.refused = refused;
  const end = records.at(-1)!.dynamodb;
  const changedAt = end?.ApproximateCreationDateTime?.getTime();
  for (const run of runs) if (changedAt !== undefined) run.lastChangeAt = changedAt;
  if (end?.SequenceNumber) runs.at(-1)!.lastSequence = end.SequenceNumber;
  return runs;
}
