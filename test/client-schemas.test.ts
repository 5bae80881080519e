/**
 * @memery/client's schemas against a real server: every answer the client checks (validate) and
 * every event GET /api/events streams (forgotten and changed included) match them.
 */
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerClient } from '@memery/client';
import { ServerEventSchema } from '@memery/client/schemas';
import { listenEvents, serverFixture, until, type ServerFixture } from './helpers/browser.js';
import { tempDir } from './helpers/images.js';

describe('@memery/client schemas against a running server', () => {
  let fx: ServerFixture;
  beforeAll(async () => {
    fx = await serverFixture();
  });
  afterAll(async () => {
    await fx.cleanup();
  });

  it('the events of an index run and a forget all validate, and the client maps error codes 1:1', async () => {
    const listener = listenEvents(fx.port, fx.token);
    const client = new ServerClient({ socketPath: fx.server.socketPath!, validate: true });
    const extra = tempDir('memery-schemas-extra-');
    try {
      cpSync(fx.files.red!, join(extra, 'red-copy.png'));
      await until(async () => (await client.status()).server.watch !== undefined, 5_000, 'status');
      const runs = new Set<number | undefined>();
      await client.index(extra, (p) => runs.add(p.run));
      expect(await client.forget(extra)).toBe(1);
      await until(() => listener.events.some((e) => e.event === 'forgotten') && listener.events.filter((e) => e.event === 'changed').length >= 2, 5_000, 'events');
      for (const e of listener.events) expect(ServerEventSchema.safeParse(e).success, JSON.stringify(e)).toBe(true);
      // One run number for the run, the same on its own stream and on /api/events (the GUI relies on it).
      expect(runs.size).toBe(1);
      const run = [...runs][0];
      expect(run).toBeGreaterThan(0);
      const ofExtra = listener.events.filter((e) => (e.event === 'progress' || e.event === 'done') && (e.data as { folder?: string }).folder === extra);
      expect(ofExtra.length).toBeGreaterThan(1);
      expect(ofExtra.every((e) => (e.data as { run?: number }).run === run)).toBe(true);
      expect(new Set(listener.events.map((e) => e.event))).toEqual(new Set(['progress', 'done', 'forgotten', 'changed']));
      // A wire code the old client turned into E_USAGE comes through as it is.
      const tcp = new ServerClient({ url: fx.server.url.split('?')[0]!, token: 'f'.repeat(64) });
      await expect(tcp.ping()).rejects.toMatchObject({ code: 'E_AUTH', status: 403 });
      tcp.close();
    } finally {
      listener.stop();
      client.close();
      rmSync(extra, { recursive: true, force: true });
    }
  });
});
