/**
 * Stream records as the chunks a change feed yields: each run of consecutive INSERT/MODIFY
 * records one chunk of whole documents (NEW_IMAGE, through the same decoding as a Scan, numbers
 * exact), each run of REMOVE records one chunk of deletes, in stream order.
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
  /** The sequence number of the run's last record: the shard's position once the run is applied. */
  lastSequence: string;
  /** When the run's last change was made, as the stream says (ms), for the lag. */
  lastChangeAt?: number;
}

/** `where` of each record: names the shard and sequence number, for error lines. */
export function recordRuns(records: readonly StreamRecord[], where: (record: StreamRecord) => string): RecordRun[] {
  const runs: RecordRun[] = [];
  let current: RecordRun | undefined;
  let currentIsDelete = false;
  for (const record of records) {
    const change = record.dynamodb ?? {};
    const isDelete = record.eventName === 'REMOVE';
    if (!current || currentIsDelete !== isDelete) {
      current = isDelete ? { docs: [], docWhere: [], deletes: [], lastSequence: '' } : { docs: [], docWhere: [], lastSequence: '' };
      currentIsDelete = isDelete;
      runs.push(current);
    }
    current.lastSequence = change.SequenceNumber ?? current.lastSequence;
    current.lastChangeAt = change.ApproximateCreationDateTime?.getTime() ?? current.lastChangeAt;
    const id = change.Keys?._id?.S;
    if (isDelete) {
      if (id !== undefined) current.deletes!.push(id);
      else (current.refused ??= []).push({ doc: change.Keys, reason: 'a REMOVE record without a string _id key: the table is not in Gofannon\'s layout', where: where(record) });
    } else if (change.NewImage) {
      current.docs.push(docFromItem(change.NewImage as DynamoItem));
      current.docWhere.push(where(record));
    } else {
      (current.refused ??= []).push({ doc: change.Keys, reason: `a ${record.eventName} record without its new image`, where: where(record) });
    }
  }
  return runs;
}
