/**
 * Listening: the TCP port (with its per-peer connection cap: more are answered 503 and closed at
 * once) and the Unix socket `<home>/memery.sock` (mode 0600), both with the request timeouts.
 */
import { chmodSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { MemeryError } from '../errors.js';

/** Longest accepted Unix socket path (sun_path is 108 bytes on Linux, 104 on macOS). */
export const MAX_SOCKET_PATH = 103;

export type Handler = (viaSocket: boolean) => (req: IncomingMessage, res: ServerResponse) => void;

export interface ListenOptions {
  port: number;
  host: string;
  /** The socket path, or undefined for none. */
  socketPath: string | undefined;
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  maxConnectionsPerPeer: number;
  log: (line: string) => void;
}

export interface Listening {
  port: number;
  /** Where the socket listens, when it does. */
  socketPath: string | undefined;
  /** Whether the TCP connection was refused by the per-peer cap (its requests are dropped unanswered). */
  refused(socket: Socket): boolean;
  close(): Promise<void>;
}

const closeServer = (s: Server) =>
  new Promise<void>((r) => {
    s.close(() => r());
    s.closeAllConnections();
  });

export async function listen(handler: Handler, o: ListenOptions): Promise<Listening> {
  const sockets = new Set<Socket>();
  const track = (s: Server) =>
    s.on('connection', (c: Socket) => {
      sockets.add(c);
      c.on('close', () => sockets.delete(c));
    });
  // A request must arrive whole within requestTimeout (Node answers 408 and closes otherwise).
  const headersTimeout = Math.min(o.headersTimeoutMs, o.requestTimeoutMs);
  const timeouts = {
    requestTimeout: o.requestTimeoutMs,
    headersTimeout,
    connectionsCheckingInterval: Math.max(25, Math.min(5_000, Math.floor(headersTimeout / 4))),
  };
  const servers: Server[] = [];
  const refusedSockets = new WeakSet<Socket>();
  const tcp = track(createServer(timeouts, handler(false)));
  const perPeer = new Map<string, number>();
  const lastRefusalLog = new Map<string, number>();
  tcp.on('connection', (c: Socket) => {
    const peer = c.remoteAddress ?? 'unknown';
    const open = perPeer.get(peer) ?? 0;
    if (open >= o.maxConnectionsPerPeer) {
      const now = Date.now();
      if (now - (lastRefusalLog.get(peer) ?? 0) > 60_000) {
        lastRefusalLog.set(peer, now);
        o.log(`refusing connections from ${peer}: it already holds ${open} (the most one address may hold)`);
      }
      c.on('error', () => {});
      refusedSockets.add(c);
      c.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n\r\nToo many connections\n', () => c.destroy());
      return;
    }
    perPeer.set(peer, open + 1);
    c.once('close', () => {
      const left = (perPeer.get(peer) ?? 1) - 1;
      if (left > 0) perPeer.set(peer, left);
      else perPeer.delete(peer);
    });
  });
  await new Promise<void>((resolveListen, reject) => {
    tcp.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(new MemeryError('E_USAGE', `Port ${o.port} on ${o.host} is already in use`, { hint: 'Pick another with --port (config `port`, MEMERY_PORT).', cause: err }));
      } else reject(err);
    });
    tcp.listen(o.port, o.host, () => resolveListen());
  });
  servers.push(tcp);
  const port = (tcp.address() as AddressInfo).port;

  let socketPath: string | undefined;
  const candidate = o.socketPath;
  if (candidate !== undefined) {
    if (Buffer.byteLength(candidate) > MAX_SOCKET_PATH) {
      o.log(`not listening on ${candidate}: the path is longer than a Unix socket allows (${MAX_SOCKET_PATH} bytes)`);
    } else {
      try {
        unlinkSync(candidate); // stale: this process holds the home's server lock
      } catch {
        /* none */
      }
      const unix = track(createServer(timeouts, handler(true)));
      const oldMask = process.umask(0o177);
      try {
        await new Promise<void>((resolveListen, reject) => {
          unix.once('error', reject);
          unix.listen(candidate, () => resolveListen());
        });
      } catch (err) {
        await closeServer(tcp);
        throw err;
      } finally {
        process.umask(oldMask);
      }
      chmodSync(candidate, 0o600);
      socketPath = candidate;
      servers.push(unix);
    }
  }

  return {
    port,
    socketPath,
    refused: (s) => refusedSockets.has(s),
    async close() {
      await Promise.all(servers.map(closeServer));
      if (socketPath) {
        try {
          unlinkSync(socketPath);
        } catch {
          /* gone */
        }
      }
      for (const s of sockets) s.destroy();
    },
  };
}
