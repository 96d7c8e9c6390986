/**
 * What gofannon-etl knows of the Gofannon app itself: the collections its database services use
 * (services/database_service in the app). Stores that may hold other applications' data default to
 * these names, and the sample backup and its layout test are built on them.
 */
export const gofannonCollections = [
  'agents',
  'deployments',
  'users',
  'sessions',
  'tickets',
  'demos',
  'agent_data_store',
  'user_sessions',
  'site_admin_audit',
] as const;

export type GofannonCollection = (typeof gofannonCollections)[number];

export function isGofannonCollection(name: string): name is GofannonCollection {
  return (gofannonCollections as readonly string[]).includes(name);
}
