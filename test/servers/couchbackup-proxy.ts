/**
 * pouchdb-server as IBM's couchbackup CLI needs it. A loopback proxy that fills two gaps
 * pouchdb-server has and CouchDB does not, and forwards everything else untouched:
 *
 * - a `_bulk_get` of no documents (couchbackup's check, before a full backup, that the endpoint
 *   exists) never answers: it gets CouchDB's answer, `{"results": []}`;
 * - `_changes` answers carry no `pending` count, and couchbackup's changes follower reads until it
 *   is 0: it gets CouchDB's count (0 once a page comes back shorter than its `limit`).
 *
 * couchbackup gzips its request bodies; pouchdb-server reads them as they are.
 */
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { readBody } from './fault-proxy.js';

export interface CouchbackupProxy {
  url: string;
  close(): Promise<void>;
}

function json(headers: IncomingHttpHeaders, bytes: Buffer): { docs?: unknown[] } | undefined {
  try {
    return JSON.parse((headers['content-encoding'] === 'gzip' ? gunzipSync(bytes) : bytes).toString('utf8')) as { docs?: unknown[] };
  } catch {
    return undefined;
  }
}

export async function startCouchbackupProxy(target: string): Promise<CouchbackupProxy> {
  const upstream = new URL(target);
  const sockets = new Set<Socket>();
  const server = createServer(async (req, res) => {
    const sent = await readBody(req);
    const url = new URL(req.url ?? '/', upstream);
    if (url.pathname.endsWith('/_bulk_get') && json(req.headers, sent)?.docs?.length === 0) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"results":[]}');
      return;
    }
    // Plain answers, so a `_changes` one can be read and completed.
    const headers = { ...req.headers, host: upstream.host, 'content-length': String(sent.length) };
    delete headers['accept-encoding'];
    const forwarded = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, async (answer) => {
      let out = await readBody(answer);
      if (url.pathname.endsWith('/_changes') && answer.statusCode === 200) {
        const changes = JSON.parse(out.toString('utf8')) as { results: unknown[]; pending?: number };
        const limit = Number(url.searchParams.get('limit') ?? Infinity);
        changes.pending ??= changes.results.length < limit ? 0 : 1;
        out = Buffer.from(JSON.stringify(changes));
      }
      const back = { ...answer.headers, 'content-length': String(out.length) };
      delete back['transfer-encoding'];
      res.writeHead(answer.statusCode ?? 502, back);
      res.end(out);
    });
    forwarded.on('error', () => req.socket.destroy());
    forwarded.end(sent);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
