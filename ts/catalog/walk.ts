import type { OpenDirOptions, Stats } from 'node:fs';
import { opendir, readFile, realpath, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { getSystemErrorMap } from 'node:util';
import ignore, { type Ignore } from 'ignore';
import { IMAGE_EXTENSIONS } from '@memery/client/protocol';

/** Whether memery indexes `path` (by its extension: the protocol's IMAGE_EXTENSIONS). Other files are ignored, not reported. */
export function isImagePath(path: string): boolean {
  return IMAGE_EXTENSIONS.has(extname(path).toLowerCase());
}

/** A file in an indexed folder (or any of its subfolders) listing what to leave out, in gitignore syntax. */
export const IGNORE_FILE = '.memeryignore';

/**
 * Whether to leave a path out: `rel` is relative to the walked folder, with "/" separators;
 * `isDir` says whether it is a folder (a folder left out is not entered).
 */
export type PathMatcher = (rel: string, isDir: boolean) => boolean;

/** A PathMatcher for gitignore-style patterns (such as --exclude), relative to the walked folder. */
export function excludeMatcher(patterns: readonly string[]): PathMatcher {
  const ig = ignore().add([...patterns]);
  return (rel, isDir) => rel !== '' && ig.ignores(isDir ? `${rel}/` : rel);
}

const posix = (p: string): string => (sep === '/' ? p : p.split(sep).join('/'));

/** The rules of one .memeryignore: they apply below `base`. */
interface IgnoreRules {
  base: string;
  ig: Ignore;
}

export interface WalkedFile {
  path: string;
  size: number;
  mtimeMs: number;
}

/** Something the walk could not look at. Its catalog entries are unknown, never "deleted". */
export interface WalkProblem {
  path: string;
  code: 'E_IO' | 'E_FILENAME';
  /** What went wrong, naming the path. */
  message: string;
  /** The same without the path ("the folder", "the file" in its place), for a list that shows the path beside it. */
  reason: string;
  /** A folder whose contents could not be listed (entries under it must be kept as they are). */
  folder: boolean;
}

export interface WalkResult {
  files: WalkedFile[];
  problems: WalkProblem[];
}

/** A name as bytes -> text, or undefined when the bytes are not valid UTF-8 (the path could not be opened). */
function utf8Name(raw: Buffer): string | undefined {
  const s = raw.toString('utf8');
  return Buffer.from(s, 'utf8').equals(raw) ? s : undefined;
}

/** The name with bytes that are not UTF-8 shown as \xNN, for messages. */
export function printableName(raw: Buffer): string {
  let out = '';
  for (let i = 0; i < raw.length; ) {
    const b = raw[i]!;
    const len = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 0;
    const seq = len ? raw.subarray(i, i + len) : undefined;
    if (seq && seq.length === len && utf8Name(Buffer.from(seq)) !== undefined) {
      out += seq.toString('utf8');
      i += len;
    } else {
      out += `\\x${b.toString(16).padStart(2, '0')}`;
      i++;
    }
  }
  return out;
}

/** A system error in words ("EACCES: permission denied"), without the path Node's message adds. */
export function systemErrorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (!e.code) return String(err);
  const text = e.errno === undefined ? undefined : getSystemErrorMap().get(e.errno)?.[1];
  return `${e.code}: ${text ?? e.message.replace(/^[A-Z]+: /, '')}`;
}

/**
 * A problem worded once: `said` names the path (or `named`) in the message and "the folder" / "the
 * file" in the reason.
 */
function problem(path: string, code: WalkProblem['code'], folder: boolean, said: (name: string) => string, named = path): WalkProblem {
  return { path, code, message: said(named), reason: said(folder ? 'the folder' : 'the file'), folder };
}

/** An unreadable folder: its catalog entries are unknown, never "deleted". */
function unreadableFolder(dir: string, err: unknown): WalkProblem {
  return problem(dir, 'E_IO', true, (d) => `Cannot read ${d} (${systemErrorText(err)}); its files are kept as they were`, `folder ${dir}`);
}

/**
 * Every image file under `root` (absolute paths, sorted). Hidden files and folders are skipped;
 * symlinks are followed, but each real folder is visited once, so loops cannot hang the walk.
 * What cannot be looked at is returned in `problems`, never dropped silently: an unreadable folder
 * (its files are unknown, not gone), a file that cannot be stat'ed, a name that is not UTF-8.
 * `exclude` folders are not entered. Paths that `ignore` matches are left out, and so are those
 * that a .memeryignore (gitignore syntax) in the folder or a subfolder matches; a deeper file's
 * rules win over its parents' (a "!pattern" there takes a file back in). A folder left out is not
 * entered.
 */
export async function walkImages(
  root: string,
  opts: { signal?: AbortSignal; exclude?: string[]; ignore?: PathMatcher; ignoreFile?: string | false } = {},
): Promise<WalkResult> {
  const files: WalkedFile[] = [];
  const problems: WalkProblem[] = [];
  // Folders never walked (memery's own home: thumbnails and models are not the user's images).
  const seen = new Set<string>(await Promise.all((opts.exclude ?? []).map((p) => realpath(p).catch(() => p))));
  const ignoreFile = opts.ignoreFile === undefined ? IGNORE_FILE : opts.ignoreFile;
  const rulesOf = new Map<string, IgnoreRules[]>([[root, []]]);
  const left = (p: string, isDir: boolean, rules: IgnoreRules[]): boolean => {
    if (opts.ignore?.(posix(relative(root, p)), isDir)) return true;
    for (let i = rules.length - 1; i >= 0; i--) {
      const r = rules[i]!;
      const rel = posix(relative(r.base, p));
      const t = r.ig.test(isDir ? `${rel}/` : rel);
      if (t.ignored) return true;
      if (t.unignored) return false;
    }
    return false;
  };
  const stack = [root];
  while (stack.length) {
    opts.signal?.throwIfAborted();
    const dir = stack.pop()!;
    let rules = rulesOf.get(dir) ?? [];
    rulesOf.delete(dir);
    let real: string;
    let handle;
    try {
      real = await realpath(dir);
      if (seen.has(real)) continue;
      seen.add(real);
      // Names as bytes, so a name that is not UTF-8 is seen (and reported) rather than mangled.
      handle = await opendir(dir, { encoding: 'buffer' } as unknown as OpenDirOptions);
    } catch (err) {
      problems.push(unreadableFolder(dir, err));
      continue;
    }
    if (ignoreFile) {
      const file = join(dir, ignoreFile);
      try {
        rules = [...rules, { base: dir, ig: ignore().add(await readFile(file, 'utf8')) }];
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ENOTDIR') {
          problems.push(problem(file, 'E_IO', false, (f) => `Cannot read ${f} (${systemErrorText(err)}); the files it lists are not left out`));
        }
      }
    }
    try {
      for await (const ent of handle) {
        const raw = ent.name as unknown as Buffer;
        if (raw[0] === 0x2e) continue; // hidden
        const name = utf8Name(raw);
        const isDir0 = ent.isDirectory();
        if (name === undefined) {
          const shown = join(dir, printableName(raw));
          if (isDir0 || isImagePath(shown)) {
            problems.push(problem(shown, 'E_FILENAME', isDir0, (f) => `Cannot index ${f}: its name is not valid UTF-8 (rename it to index it)`));
          }
          continue;
        }
        const p = join(dir, name);
        let isDir = isDir0;
        let isFile = ent.isFile();
        let linked: Stats | undefined; // a symlink's target, stat'ed once
        if (ent.isSymbolicLink()) {
          try {
            linked = await stat(p);
            isDir = linked.isDirectory();
            isFile = linked.isFile();
          } catch {
            continue; // dangling link
          }
        }
        if (isDir) {
          if (left(p, true, rules)) continue;
          stack.push(p);
          rulesOf.set(p, rules);
        } else if (isFile && isImagePath(p)) {
          if (left(p, false, rules)) continue;
          try {
            const st = linked ?? (await stat(p));
            files.push({ path: p, size: st.size, mtimeMs: st.mtimeMs });
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // deleted while walking
            problems.push(problem(p, 'E_IO', false, (f) => `Cannot read ${f} (${systemErrorText(err)}); kept as it was`));
          }
        }
      }
    } catch (err) {
      // Listing failed part-way (EIO): what was listed is real, the rest is unknown.
      problems.push(unreadableFolder(dir, err));
    }
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, problems };
}
