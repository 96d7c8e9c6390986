// Back up without users' API keys, and drop test accounts:
//   gofannon-etl --from couchdb --to file:backup.json.gz --transform ./examples/redact.js
export default function redact(doc, { collection }) {
  if (collection !== 'users') return doc;
  if (doc.email?.endsWith('@example.test')) return null;
  const { api_keys, ...rest } = doc;
  return { ...rest, api_keys: Object.fromEntries(Object.keys(api_keys ?? {}).map((k) => [k, '***'])) };
}
