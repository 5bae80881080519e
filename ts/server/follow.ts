/**
 * With --watch: the folders the server watches. At start, every indexed folder and every config
 * folder (indexed now if it is not yet); afterwards the folders that this server's jobs index or
 * forget, and those that another process indexes or forgets: the catalog's files are checked
 * every `pollMs`, and its folder list is read again when they changed and nobody holds the index
 * lock (so not on every poll of a long `memery index` run).
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Memery } from '../api/memery.js';
import { acquireLock } from '../util/lock.js';
import type { JobQueue } from './jobs.js';
import type { FolderWatcher } from './watch.js';

export async function followFolders(o: { home: string; memery: Memery; jobs: JobQueue; watcher: FolderWatcher; pollMs: number; log: (line: string) => void }): Promise<() => void> {
  const { home, memery, jobs, watcher, log } = o;
  jobs.on('done', (d) => void watcher.add(d.folder));
  jobs.on('forgotten', (f) => void watcher.remove(f.folder));
  const configFolders = new Set(memery.config.folders.map((f) => resolve(f)));
  const folders = new Set([...memery.folders().map((f) => f.path), ...configFolders]);
  for (const f of folders) {
    if (!existsSync(f)) {
      log(`not watching ${f}: it does not exist`);
      continue;
    }
    await watcher.add(f);
    // Catch up with changes made while no server watched; index config folders not yet indexed.
    jobs.requestIndex(f);
  }
  const known = new Set(folders);
  const catalogFile = join(home, 'catalog.db');
  const signature = () =>
    [catalogFile, `${catalogFile}-wal`]
      .map((f) => {
        try {
          const st = statSync(f);
          return `${st.mtimeMs}:${st.size}:${st.ino}`;
        } catch {
          return '-';
        }
      })
      .join('|');
  let seen = signature();
  let syncing = false;
  const sync = async () => {
    if (syncing || jobs.current) return; // our own runs add their folders when done
    const now = signature();
    if (now === seen) return;
    syncing = true;
    try {
      const release = await acquireLock(join(home, 'index.lock'), 0).catch(() => undefined);
      if (!release) return; // another process is indexing: read the list once it has finished
      release();
      seen = now;
      const inCatalog = new Set(memery.folders().map((f) => f.path));
      for (const f of inCatalog) {
        if (known.has(f) || !existsSync(f)) continue;
        known.add(f);
        log(`watching ${f}: indexed by another process`);
        await watcher.add(f);
        jobs.requestIndex(f); // what changed between that run and this watch
      }
      for (const f of [...known]) {
        if (inCatalog.has(f) || configFolders.has(f)) continue;
        known.delete(f);
        await watcher.remove(f);
      }
    } catch (err) {
      log(`checking the catalog for new folders: ${(err as Error).message}`);
    } finally {
      syncing = false;
    }
  };
  jobs.on('done', (d) => known.add(d.folder));
  jobs.on('forgotten', (f) => known.delete(f.folder));
  const poll = setInterval(() => void sync(), o.pollMs);
  poll.unref();
  return () => clearInterval(poll);
}
