/**
 * `watch`: with the server watching an indexed folder, adding, changing, moving and deleting files
 * shows up in search results within seconds, and a burst of files becomes one or two index runs.
 * A change made while another process holds the index lock is indexed once the lock is released,
 * and a folder indexed by another process while the server runs is watched too.
 */
import { copyFileSync, mkdirSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Memery } from '../ts/api/memery.js';
import type { SearchResult } from '../ts/api/schemas.js';
import { acquireLock } from '../ts/util/lock.js';
import { findServer, type ServerClient } from '../ts/server/client.js';
import { listenEvents, serverFixture, until, type ServerFixture } from './helpers/browser.js';
import { tempDir, writeSolid } from './helpers/images.js';
import { COLOUR_HF } from './helpers/memery.js';

const DEADLINE = 10_000;

let fx: ServerFixture;
let client: ServerClient;
const logs: string[] = [];

beforeAll(async () => {
  fx = await serverFixture({ index: false, watch: true, watchDebounceMs: 300, catalogPollMs: 300, log: (l) => logs.push(l) });
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
    const events = listenEvents(fx.port, fx.token);
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

describe('watch, with other memery processes', () => {
  it('indexes a change made while another process holds the index lock, once the lock is released', async () => {
    const release = await acquireLock(join(fx.home, 'index.lock'), 5_000);
    let released = false;
    try {
      await writeSolid(join(fx.dir, 'grey.png'), [128, 128, 128]);
      // The watcher's run found the lock taken: it steps aside and will try again (it used to fail with E_LOCKED and drop the change).
      await until(() => logs.some((l) => l.includes(`indexing ${fx.dir} waits for another memery process`)), DEADLINE, 'the watcher to meet the lock');
      expect((await top('grey', 20)).some((r) => basename(r.path) === 'grey.png')).toBe(false);
      expect(logs.some((l) => l.includes('failed'))).toBe(false);
      release();
      released = true;
      await until(async () => basename((await top('grey', 1))[0]!.path) === 'grey.png', DEADLINE * 2, 'grey.png in results after the lock is released');
    } finally {
      if (!released) release();
    }
  });

  it('watches a folder that another process indexed while the server runs', async () => {
    const other = tempDir('memery-other-');
    try {
      await writeSolid(join(other, 'first.png'), [0, 128, 128]);
      // Another Memery on the same home (as `memery index` in a terminal would be).
      const m = await Memery.open({ home: fx.home, modelDir: COLOUR_HF });
      try {
        await m.index(other);
      } finally {
        await m.close();
      }
      await until(async () => (await client.status()).server.watch.folders.includes(other), DEADLINE, 'the new folder to be watched');
      expect((await client.search('magenta', { n: 10, folders: [other] })).map((r) => basename(r.path))).toEqual(['first.png']);
      await writeSolid(join(other, 'later.png'), [255, 0, 255]);
      await until(
        async () => (await client.search('magenta', { n: 10, folders: [other] }))[0]?.path === join(other, 'later.png'),
        DEADLINE,
        'later.png in results',
      );
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
