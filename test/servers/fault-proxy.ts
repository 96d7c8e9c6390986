/**
 * A fault-injecting HTTP proxy for tests: it sits on a free loopback port between the tool and a
 * real server (DynamoDB Local, pouchdb-server) and, request by request, either forwards byte-exact
 * or injects a fault that a real store or network produces:
 *
 * - `throttle`: DynamoDB's 400 ProvisionedThroughputExceededException (the SDK reads the error name
 *   from the `x-amzn-ErrorType` header first, then the body's `__type`, stripped of its
 *   `namespace#` prefix: both are sent, as DynamoDB does); for CouchDB a 429 too_many_requests.
 * - `429`, `500`, `503`: the status with a body the store would send.
 * - `reset`: the request is read, then the client's socket is destroyed with no answer (nothing
 *   reached the server).
 * - `resetAfterWrite`: the request is forwarded and the server's answer is thrown away by
 *   destroying the socket: the write happened but the client cannot know (the retry must be
 *   harmless: writes by `_id` are idempotent).
 * - `partial`: a DynamoDB BatchWriteItem whose first half of RequestItems is forwarded and whose
 *   second half comes back as UnprocessedItems, as DynamoDB does under load.
 *
 * The plan is a function of the request (number, method, path, DynamoDB target, body), so tests are
 * deterministic (every n-th request, or by collection); every injected fault is counted by kind.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultKind = 'throttle' | '429' | '500' | '503' | 'reset' | 'resetAfterWrite' | 'partial';
export type Decision = 'forward' | FaultKind;

export interface RequestInfo {
  /** 1-based, in arrival order. */
  n: number;
  method: string;
  /** Path and query as the client sent them. */
  path: string;
  /** DynamoDB operation (`BatchWriteItem`), from x-amz-target; undefined for CouchDB. */
  operation?: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface FaultProxy {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** Replaces the plan; the default forwards everything. */
  plan(decide: (request: RequestInfo) => Decision): void;
  /** Faults injected so far, by kind. */
  readonly counts: Record<FaultKind, number>;
  /** Requests seen, and of them forwarded untouched (or partly, for `partial`). */
  readonly requests: { seen: number; forwarded: number };
  /** Total faults injected. */
  faults(): number;
  resetCounts(): void;
  close(): Promise<void>;
}

const emptyCounts = (): Record<FaultKind, number> => ({ throttle: 0, '429': 0, '500': 0, '503': 0, reset: 0, resetAfterWrite: 0, partial: 0 });

function dynamoError(type: string, message: string): string {
  return JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message });
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The answer a store gives for a fault, shaped for the protocol the request speaks. */
function faultAnswer(kind: 'throttle' | '429' | '500' | '503', dynamo: boolean): Answer {
  if (dynamo) {
    const json = (status: number, type: string, message: string): Answer => ({
      status,
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-ErrorType': `${type}:`, 'x-amzn-RequestId': 'FAULTPROXY' },
      body: dynamoError(type, message),
    });
    if (kind === 'throttle') {
      return json(400, 'ProvisionedThroughputExceededException', 'The level of configured provisioned throughput for the table was exceeded. (injected)');
    }
    if (kind === '429') return json(429, 'ThrottlingException', 'Rate of requests exceeds the allowed throughput. (injected)');
    if (kind === '500') return json(500, 'InternalServerError', 'Internal server error (injected)');
    return json(503, 'ServiceUnavailable', 'Service unavailable (injected)');
  }
  const couch = (status: number, error: string, reason: string): Answer => ({
    status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ error, reason }),
  });
  if (kind === 'throttle' || kind === '429') return couch(429, 'too_many_requests', 'You have exceeded your request rate (injected)');
  if (kind === '500') return couch(500, 'unknown_error', 'injected server error');
  return couch(503, 'service_unavailable', 'injected: service unavailable');
}

/** A request's or answer's whole body. */
export function readBody(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    stream.on('data', (b: Buffer) => parts.push(b));
    stream.on('end', () => resolve(Buffer.concat(parts)));
    stream.on('error', reject);
  });
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  let decide: (request: RequestInfo) => Decision = () => 'forward';
  let counts = emptyCounts();
  const requests = { seen: 0, forwarded: 0 };
  const sockets = new Set<Socket>();

  /** Sends the request upstream (byte-exact unless `body` was rewritten) and collects the answer. */
  function forward(info: RequestInfo, body: Buffer): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const headers = { ...info.headers, host: upstream.host, 'content-length': String(body.length) };
      delete headers['transfer-encoding'];
      const req = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: info.method, path: info.path, headers },
        (res) => {
          readBody(res).then((b) => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: b }), reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  const server: Server = createServer(async (req, res) => {
    const n = ++requests.seen;
    const body = await readBody(req);
    const amzTarget = req.headers['x-amz-target'];
    const info: RequestInfo = {
      n,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      operation: typeof amzTarget === 'string' ? amzTarget.split('.').pop() : undefined,
      headers: req.headers,
      body,
    };
    const dynamo = info.operation !== undefined;
    let decision = decide(info);
    if (decision === 'partial' && info.operation !== 'BatchWriteItem') decision = 'forward';
    try {
      if (decision === 'reset') {
        counts.reset++;
        req.socket.destroy();
        return;
      }
      if (decision === 'throttle' || decision === '429' || decision === '500' || decision === '503') {
        counts[decision]++;
        const answer = faultAnswer(decision, dynamo);
        res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) });
        res.end(answer.body);
        return;
      }
      if (decision === 'partial') {
        const input = JSON.parse(body.toString('utf8')) as { RequestItems: Record<string, unknown[]> };
        const sent: Record<string, unknown[]> = {};
        const held: Record<string, unknown[]> = {};
        for (const [table, items] of Object.entries(input.RequestItems)) {
          const keep = Math.ceil(items.length / 2);
          sent[table] = items.slice(0, keep);
          if (items.length > keep) held[table] = items.slice(keep);
        }
        if (Object.keys(held).length > 0) {
          const answer = await forward(info, Buffer.from(JSON.stringify({ ...input, RequestItems: sent })));
          if (answer.status === 200) {
            counts.partial++;
            requests.forwarded++;
            const output = JSON.parse(answer.body.toString('utf8')) as { UnprocessedItems?: Record<string, unknown[]> };
            const unprocessed = { ...(output.UnprocessedItems ?? {}) };
            for (const [table, items] of Object.entries(held)) unprocessed[table] = [...(unprocessed[table] ?? []), ...items];
            const text = JSON.stringify({ ...output, UnprocessedItems: unprocessed });
            const headers = { ...answer.headers };
            delete headers['x-amz-crc32'];
            delete headers['content-length'];
            res.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(text) });
            res.end(text);
            return;
          }
          res.writeHead(answer.status, answer.headers);
          res.end(answer.body);
          return;
        }
        // A batch of one cannot be split: forward it whole.
      }
      const answer = await forward(info, body);
      requests.forwarded++;
      if (decision === 'resetAfterWrite') {
        counts.resetAfterWrite++;
        req.socket.destroy();
        return;
      }
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
    } catch (error) {
      // The real server failed us: pass that on as a dropped connection.
      req.socket.destroy(error as Error);
    }
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    plan(fn) {
      decide = fn;
    },
    get counts() {
      return counts;
    },
    requests,
    faults: () => Object.values(counts).reduce((a, b) => a + b, 0),
    resetCounts() {
      counts = emptyCounts();
      requests.seen = 0;
      requests.forwarded = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A deterministic mixed plan: every `every`-th request gets the next fault of `kinds` in turn,
 * the rest are forwarded. `applies` limits it to some requests (e.g. writes only).
 */
export function everyNth(every: number, kinds: FaultKind[], applies: (request: RequestInfo) => boolean = () => true): (request: RequestInfo) => Decision {
  let considered = 0;
  let next = 0;
  return (request) => {
    if (!applies(request)) return 'forward';
    considered++;
    if (considered % every !== 0) return 'forward';
    return kinds[next++ % kinds.length]!;
  };
}
