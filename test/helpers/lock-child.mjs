// Races for a lock: `node lock-child.mjs DIST_LOCK_JS LOCK MARKER ROUNDS`. Inside the lock it creates
// MARKER exclusively; finding it already there means two holders at once (printed as "overlap").
import { openSync, closeSync, unlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const [lockModule, lock, marker, rounds] = process.argv.slice(2);
const { acquireLock } = await import(lockModule);
let overlaps = 0;
for (let i = 0; i < Number(rounds); i++) {
  const release = await acquireLock(lock, 60_000);
  try {
    closeSync(openSync(marker, 'wx'));
  } catch {
    overlaps++;
  }
  await sleep(1 + Math.random() * 2);
  try {
    unlinkSync(marker);
  } catch {
    /* the other holder removed it */
  }
  release();
}
process.stdout.write(`overlap ${overlaps}\n`);
