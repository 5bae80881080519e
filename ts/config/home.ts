/**
 * memery's home holds the list of every indexed path (catalog.db), the server token and the
 * models: it is private to its owner. The home is created 0700 and the files memery writes in it
 * 0600; an existing home that others can read is tightened on open, and that is reported.
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';

export const HOME_MODE = 0o700;
export const FILE_MODE = 0o600;

export const octal = (mode: number): string => `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;

export interface LooseEntry {
  path: string;
  mode: number;
  isDirectory: boolean;
}

/** Entries under `home` (the home included) that group or others can access; symlinks are not followed. */
export function looseEntries(home: string): LooseEntry[] {
  const out: LooseEntry[] = [];
  const visit = (p: string, st: Stats): void => {
    if (st.isSymbolicLink()) return;
    if (st.mode & 0o077) out.push({ path: p, mode: st.mode & 0o7777, isDirectory: st.isDirectory() });
    if (!st.isDirectory()) return;
    let names: string[];
    try {
      names = readdirSync(p);
    } catch {
      return;
    }
    for (const n of names) {
      const child = join(p, n);
      try {
        visit(child, lstatSync(child));
      } catch {
        /* gone meanwhile */
      }
    }
  };
  visit(home, statSync(home)); // the home itself may be a link to the real folder
  return out;
}

/** Why memery must not change the home's mode (a shared folder such as /tmp, or someone else's), or undefined. */
export function notOurs(st: Stats): string | undefined {
  if (st.mode & 0o1000) return 'it is a shared folder (sticky bit)';
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) return `it belongs to uid ${st.uid}`;
  return undefined;
}

/** Removes group/other bits: directories become 0700, files keep their owner bits (0644 -> 0600). */
export function tighten(entries: LooseEntry[]): number {
  let n = 0;
  for (const e of entries) {
    try {
      chmodSync(e.path, e.isDirectory ? HOME_MODE : e.mode & 0o700);
      n++;
    } catch {
      /* not ours to change */
    }
  }
  return n;
}

/**
 * Creates `home` (0700) or tightens an existing one (and everything in it) that group or others
 * can read. Returns what it did, one sentence each, for the caller to report (nothing when the
 * home was already private). Never touches a home that is not the user's own folder.
 */
export function ensurePrivateHome(home: string): string[] {
  mkdirSync(home, { recursive: true, mode: HOME_MODE });
  const st = statSync(home);
  if (!st.isDirectory()) return [];
  const loose = looseEntries(home);
  if (!loose.length) return [];
  const top = loose.find((e) => e.path === home);
  if (top) {
    const why = notOurs(st);
    if (why) return [`${home} is readable by other users (mode ${octal(st.mode)}) and was left as it is because ${why}; set MEMERY_HOME to a private folder`];
  }
  const n = tighten(loose);
  if (!n) return [];
  if (top) {
    const others = n - 1;
    return [`tightened permissions of ${home} (was ${octal(top.mode)})${others > 0 ? ` and of ${others} item${others === 1 ? '' : 's'} in it` : ''}: other users could list the indexed paths`];
  }
  const first = loose[0]!;
  return [`tightened permissions of ${n} item${n === 1 ? '' : 's'} in ${home} (e.g. ${first.path} was ${octal(first.mode)}): other users could read them`];
}
