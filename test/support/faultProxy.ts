// An HTTP proxy for tests, between layerkeep and the S3 server, that fails a share of the
// requests on purpose (connection resets before or after the server saw the request, stalls,
// 503 SlowDown, 500 InternalError) and counts the body bytes it received per request kind, so
// a test can assert how much was sent again. Listens on 127.0.0.1 only.
import { Agent, createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { mulberry32 } from './random.js';

export type Fault = 'reset-before' | 'reset-after' | 'stall' | 'slowdown' | 'error500';
export const ALL_FAULTS: Fault[] = ['reset-before', 'reset-after', 'stall', 'slowdown', 'error500'];

export interface KindStats {
  requests: number;
  faults: number;
  /** Request body bytes received from the client (every attempt, faulted or not). */
  bytesIn: number;
  /** Request body bytes passed on to the server. */
  bytesForwarded: number;
}

export interface FaultProxyOptions {
  /** Upstream S3 endpoint, e.g. http://127.0.0.1:7480. */
  target: string;
  /** Share of requests to fail, 0..1. */
  failureRate?: number;
  faults?: Fault[];
  /** Request kinds eligible for faults (default: all). */
  kinds?: string[];
  seed?: number;
  /** How long a stalled request is held before its connection is closed. */
  stallMs?: number;
  /** Delay before each request of these kinds is forwarded (slows an upload down for kill tests). */
  delayMs?: Record<string, number>;
}

export interface FaultProxy {
  readonly url: string;
  failureRate: number;
  readonly stats: Map<string, KindStats>;
  readonly faultCounts: Map<Fault, number>;
  delayMs: Record<string, number>;
  /** Fails the next `count` requests of this kind with this fault, whatever the rate. */
  failNext(kind: string, fault: Fault, count?: number): void;
  stat(kind: string): KindStats;
  resetStats(): void;
  close(): Promise<void>;
}

/** Names the S3 operation of a path-style request. */
export function requestKind(method: string, url: string, headers: IncomingMessage['headers']): string {
  const u = new URL(url, 'http://proxy');
  const q = u.searchParams;
  const hasKey = u.pathname.split('/').filter(Boolean).length > 1;
  const copy = headers['x-amz-copy-source'] !== undefined;
  switch (method) {
    case 'PUT':
      if (q.has('partNumber')) return copy ? 'UploadPartCopy' : 'UploadPart';
      if (!hasKey) return 'CreateBucket';
      return copy ? 'CopyObject' : 'PutObject';
    case 'POST':
      if (q.has('uploads')) return 'CreateMultipartUpload';
      if (q.has('uploadId')) return 'CompleteMultipartUpload';
      if (q.has('delete')) return 'DeleteObjects';
      return 'Post';
    case 'GET':
      if (q.has('uploadId')) return 'ListParts';
      if (q.has('uploads')) return 'ListMultipartUploads';
      return hasKey ? 'GetObject' : 'ListObjects';
    case 'HEAD':
      return hasKey ? 'HeadObject' : 'HeadBucket';
    case 'DELETE':
      if (q.has('uploadId')) return 'AbortMultipartUpload';
      return hasKey ? 'DeleteObject' : 'DeleteBucket';
    default:
      return method;
  }
}


const errorXml = (code: string, message: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault-proxy</RequestId></Error>`;

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(opts.target);
  const rand = mulberry32(opts.seed ?? 1);
  const faults = opts.faults ?? ALL_FAULTS;
  const stats = new Map<string, KindStats>();
  const faultCounts = new Map<Fault, number>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const upstreamAgent = new Agent({ keepAlive: true });
  const stat = (kind: string): KindStats => {
    let s = stats.get(kind);
    if (!s) stats.set(kind, (s = { requests: 0, faults: 0, bytesIn: 0, bytesForwarded: 0 }));
    return s;
  };

  const proxy: FaultProxy = {
    url: '',
    failureRate: opts.failureRate ?? 0,
    stats,
    faultCounts,
    delayMs: { ...opts.delayMs },
    failNext: (kind, fault, count = 1) => {
      for (let i = 0; i < count; i++) scripted.push({ kind, fault });
    },
    stat,
    resetStats: () => {
      stats.clear();
      faultCounts.clear();
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      upstreamAgent.destroy();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };

  const scripted: { kind: string; fault: Fault }[] = [];
  const pickFault = (kind: string): Fault | undefined => {
    const i = scripted.findIndex((f) => f.kind === kind);
    if (i >= 0) return scripted.splice(i, 1)[0].fault;
    if (opts.kinds && !opts.kinds.includes(kind)) return undefined;
    if (rand() >= proxy.failureRate) return undefined;
    return faults[Math.floor(rand() * faults.length)];
  };

  /** Reads the whole request body, counting it; resolves with the chunks. */
  const readBody = (req: IncomingMessage, s: KindStats): Promise<Buffer[]> =>
    new Promise((res, rej) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => {
        s.bytesIn += c.length;
        chunks.push(c);
      });
      req.on('end', () => res(chunks));
      req.on('error', rej);
    });

  const forward = (req: IncomingMessage, res: ServerResponse, s: KindStats, body: Buffer[], loseResponse: boolean): void => {
    const up = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent: upstreamAgent },
      (upRes) => {
        if (loseResponse) {
          // The server did the work; the client never hears of it.
          upRes.resume();
          upRes.on('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => req.socket.destroy());
    for (const c of body) {
      s.bytesForwarded += c.length;
      up.write(c);
    }
    up.end();
  };

  const server = createServer((req, res) => {
    const kind = requestKind(req.method ?? 'GET', req.url ?? '/', req.headers);
    const s = stat(kind);
    s.requests++;
    const fault = pickFault(kind);
    if (fault) {
      s.faults++;
      faultCounts.set(fault, (faultCounts.get(fault) ?? 0) + 1);
    }
    if (fault === 'reset-before') {
      // Take some of the body, then drop the connection.
      let seen = 0;
      req.on('data', (c: Buffer) => {
        s.bytesIn += c.length;
        seen += c.length;
        if (seen > 64 * 1024) req.socket.destroy();
      });
      const t = setTimeout(() => req.socket.destroy(), 20);
      timers.add(t);
      return;
    }
    readBody(req, s).then(
      (body) => {
        if (fault === 'stall') {
          const t = setTimeout(() => req.socket.destroy(), opts.stallMs ?? 60_000);
          timers.add(t);
          return;
        }
        if (fault === 'slowdown' || fault === 'error500') {
          const [status, code, msg] = fault === 'slowdown' ? [503, 'SlowDown', 'Please reduce your request rate.'] : [500, 'InternalError', 'We encountered an internal error. Please try again.'];
          const xml = errorXml(code, msg);
          res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
          res.end(req.method === 'HEAD' ? undefined : xml);
          return;
        }
        const delay = proxy.delayMs[kind] ?? 0;
        if (delay > 0) {
          const t = setTimeout(() => {
            timers.delete(t);
            forward(req, res, s, body, fault === 'reset-after');
          }, delay);
          timers.add(t);
        } else {
          forward(req, res, s, body, fault === 'reset-after');
        }
      },
      () => req.socket.destroy(),
    );
  });
  server.on('connection', (sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  const port = (server.address() as AddressInfo).port;
  (proxy as { url: string }).url = `http://127.0.0.1:${port}`;
  return proxy;
}
