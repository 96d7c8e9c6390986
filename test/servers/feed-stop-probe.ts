/**
 * A stop while CouchDB's feed waits in a long poll, after garbage collections: run with
 * `node --expose-gc --import tsx feed-stop-probe.ts <url with credentials> <db>`. Prints `ended`
 * when the feed ended after the stop, `hung` (exit 1) when it was still waiting 10 s later: an abort
 * that only weakly reached the request (Node 20's AbortSignal.any) is lost once collected.
 */
import { couchChangeFeed } from '../../src/stores/couchdb/change-feed.js';
import { openCouch } from '../../src/stores/couchdb/client.js';
import { resolveEndpoint } from '../../src/stores/couchdb/endpoint.js';

const [url, db] = process.argv.slice(2) as [string, string];
// The gate: the long poll's answer has begun (its headers came), and its body is being waited for.
let polling: () => void = () => {};
const pollAnswering = new Promise<void>((resolve) => (polling = resolve));
const fetchNow = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const response = await fetchNow(input, init);
  if (String(input).includes('feed=longpoll')) polling();
  return response;
};
const couch = openCouch(resolveEndpoint({ scheme: 'couchdb', rest: url.replace(/^http:/, ''), raw: '' }, {}));
const feed = couchChangeFeed(couch, { limit: 100, retries: 8, warn: () => {} });
const controller = new AbortController();
const head = await feed.head([db], controller.signal);
const ended = (async () => {
  for await (const _ of feed.changes({ collections: new Set([db]), from: head, signal: controller.signal }));
})();
await pollAnswering;
await new Promise((resolve) => setImmediate(resolve));
for (let i = 0; i < 3; i++) globalThis.gc!();
controller.abort();
const watchdog = setTimeout(() => {
  process.stdout.write('hung\n');
  process.exit(1);
}, 10_000);
await ended;
clearTimeout(watchdog);
process.stdout.write('ended\n');
