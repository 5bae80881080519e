/**
 * Server-sent events: the job events broadcast to GET /api/events listeners, the stream of one
 * POST /api/index run (both throttled by the protocol's progressThrottle).
 */
import type { ServerResponse } from 'node:http';
import { EVENTS, progressThrottle, sseFrame, type EventName } from '@memery/client/protocol';
import type { JobQueue } from './jobs.js';

/** Starts an event stream on `res` (200, text/event-stream) with a first comment. */
export function openStream(res: ServerResponse, comment: string): void {
  res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
  res.write(`: ${comment}\n\n`);
}

/** The listeners of GET /api/events, fed with every job's events. */
export class EventHub {
  readonly #clients = new Set<ServerResponse>();

  constructor(jobs: JobQueue, log: (line: string) => void) {
    const pass = progressThrottle();
    jobs.on('progress', (p) => {
      if (pass(p)) this.broadcast(EVENTS.progress, p);
    });
    jobs.on('done', (d) => this.broadcast(EVENTS.done, { ...d.summary, source: d.source, run: d.run }));
    jobs.on('error', (e) => {
      this.broadcast(EVENTS.error, e);
      if (e.source !== 'api') log(`indexing ${e.folder} failed: ${e.message}`);
    });
    jobs.on('forgotten', (f) => this.broadcast(EVENTS.forgotten, f));
    jobs.on('changed', () => this.broadcast(EVENTS.changed, {}));
  }

  broadcast(event: EventName, data: unknown): void {
    if (this.#clients.size === 0) return;
    const frame = sseFrame(event, data);
    for (const res of this.#clients) res.write(frame);
  }

  /** GET /api/events: keeps `res` open (a comment every 15 s) until the client leaves. */
  subscribe(res: ServerResponse): void {
    openStream(res, 'connected');
    this.#clients.add(res);
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    res.on('close', () => {
      clearInterval(ping);
      this.#clients.delete(res);
    });
  }

  close(): void {
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }
}
