import type { TestProject } from 'vitest/node';
import { startCouch, testCouchAdmin, withTestAdmin } from './servers/couchdb.js';
import { startDynamoLocal } from './servers/dynamodb-local.js';
import { startFirestore } from './servers/firestore.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamodbUrl: string;
    /** The shared pouchdb-server, which has an admin (testCouchAdmin): for refusals and anonymous reads. */
    couchdbUrl: string;
    /** couchdbUrl with the admin's user and password: what tests write with. */
    couchdbAuthUrl: string;
    firestoreHost: string;
  }
}

/** Starts one of each real server on free loopback ports for the whole test run. */
export default async function setup(project: TestProject) {
  const [dynamo, couch, firestore] = await Promise.all([startDynamoLocal(), startCouch(testCouchAdmin), startFirestore()]);
  project.provide('dynamodbUrl', dynamo.url);
  project.provide('couchdbUrl', couch.url);
  project.provide('couchdbAuthUrl', withTestAdmin(couch.url));
  project.provide('firestoreHost', firestore.host);
  return async () => {
    await Promise.all([dynamo.stop(), couch.stop(), firestore.stop()]);
  };
}
