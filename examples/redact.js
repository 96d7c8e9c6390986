// Back up without users' API keys, and drop test accounts (and their auth sessions):
//   gofannon-etl --from couchdb --to file:backup.json.gz --transform ./examples/redact.js
const isTestAccount = (email) => typeof email === 'string' && email.endsWith('@example.test');

export default function redact(doc, { collection }) {
  if (collection === 'user_sessions') return isTestAccount(doc.email) ? null : doc;
  if (collection !== 'users') return doc;
  if (isTestAccount(doc.basicInfo?.email)) return null;                       // dropped
  if (!doc.apiKeys) return doc;
  const apiKeys = Object.fromEntries(Object.entries(doc.apiKeys).map(([k, v]) => [k, v == null ? v : '***']));
  return { ...doc, apiKeys };                                                 // every key kept, every set value masked
}
