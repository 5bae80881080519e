/**
 * `watch`: with the server watching an indexed folder, adding, changing, moving and deleting files
 * shows up in search results within seconds, and a burst of files becomes one or two index runs.
 */
import { copyFileSync, mkdirSync, renameSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SearchResult } from '../ts/api/schemas.js';
import { findServer, type ServerClient } from '../ts/server/client.js';
import { listenEvents, serverFixture, until, type ServerFixture } from './helpers/browser.js';
import { writeSolid } from './helpers/images.js';

const DEADLINE = 10_000;

let fx: ServerFixture;
let client: ServerClient;

beforeAll(async () => {
  fx = await serverFixture({ index: false, watch: true, watchDebounceMs: 300 });
  client = (await findServer(fx.home))!;
  await client.index(fx.dir);
  // Indexed folders are watched once their first run is done.
  await until(async () => (await client.status()).server.watch.folders.includes(fx.dir), DEADLINE, 'the watch subscription');
});
afterAll(async () => {
  client?.close();
  await fx?.cleanup();
});

const top = async (q: string, n = 3): Promise<SearchResult[]> => client.search(q, { n });

describe('watch', () => {
  it('reports the watch in status', async () => {
    const st = await client.status();
    expect(st.server.watch).toMatchObject({ enabled: true, folders: [fx.dir] });
  });

  it('indexes an added file', async () => {
    const before = await top('magenta', 1);
    expect(basename(before[0]!.path)).not.toBe('magenta.png');
    await writeSolid(join(fx.dir, 'magenta.png'), [255, 0, 255]);
    await until(async () => basename((await top('magenta', 1))[0]!.path) === 'magenta.png', DEADLINE, 'magenta.png in results');
  });

  it('re-embeds a changed file', async () => {
    const redBefore = (await top('red', 8)).find((r) => basename(r.path) === 'red.png')!;
    expect(redBefore.score).toBeGreaterThan(0.9);
    await writeSolid(join(fx.dir, 'red.png'), [0, 0, 255]); // red.png now holds blue
    await until(
      async () => {
        const blue = await top('blue', 8);
        return blue.find((r) => basename(r.path) === 'red.png')!.score > 0.9;
      },
      DEADLINE,
      'red.png to match "blue"',
    );
    expect(basename((await top('red', 1))[0]!.path)).not.toBe('red.png');
  });

  it('follows a move (into a new subfolder)', async () => {
    const sub = join(fx.dir, 'moved');
    mkdirSync(sub);
    renameSync(join(fx.dir, 'magenta.png'), join(sub, 'renamed.png'));
    await until(
      async () => {
        const r = await top('magenta', 8);
        return r[0]!.path === join(sub, 'renamed.png') && !r.some((x) => x.path === join(fx.dir, 'magenta.png'));
      },
      DEADLINE,
      'the moved file',
    );
  });

  it('drops a deleted file', async () => {
    unlinkSync(join(fx.dir, 'moved', 'renamed.png'));
    await until(async () => !(await top('magenta', 20)).some((r) => r.path.endsWith('renamed.png')), DEADLINE, 'the deleted file to go');
    expect((await client.status()).counts.files).toBe(8);
  });

  it('batches a burst of files into few index runs', async () => {
    const events = listenEvents(fx.port);
    try {
      await new Promise((r) => setTimeout(r, 200));
      const burst = join(fx.dir, 'burst');
      mkdirSync(burst);
      for (let i = 0; i < 300; i++) copyFileSync(join(fx.dir, i % 2 ? 'green.png' : 'yellow.png'), join(burst, `img-${String(i).padStart(4, '0')}.png`));
      await until(async () => (await client.status()).counts.files === 308, DEADLINE * 2, '300 new files in the catalog');
      await until(() => events.events.some((e) => e.event === 'done'), DEADLINE, 'the done event');
      const runs = events.events.filter((e) => e.event === 'done' && e.data.source === 'watch');
      expect(runs.length).toBeGreaterThanOrEqual(1);
      expect(runs.length).toBeLessThanOrEqual(3);
      expect(runs.reduce((a, e) => a + e.data.new + e.data.moved, 0)).toBe(300);
    } finally {
      events.stop();
    }
  });
});
