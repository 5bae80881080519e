/**
 * Finding `node` and `memery` from a launcher. Raycast does not inherit the login shell's PATH, so
 * the usual install locations are searched too, after the paths set in the preferences: npm's
 * global prefix (`npm prefix -g`: NPM_CONFIG_PREFIX, `prefix=` in ~/.npmrc, else the folder of the
 * node that runs npm, i.e. Homebrew's /opt/homebrew and /usr/local), Volta, nvm, fnm, asdf, mise,
 * pnpm, bun. `npm install -g memery` puts `memery` in `<prefix>/bin`.
 */
import {
  accessSync,
  closeSync,
  constants,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  realpathSync,
  statSync,
} from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, extname, join } from "node:path";
import { expandHome } from "@memery/client/launcher";

/** `~` and `~/…` expanded, others made absolute: memery's rule (@memery/client). */
export { expandHome };

export interface LocateOptions {
  /** Environment to read PATH, HOME and friends from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Home directory (default os.homedir()). */
  home?: string;
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** `<base>/<version>/bin` for version managers that keep one folder per Node version, newest first. */
function versionBins(base: string, ...sub: string[]): string[] {
  try {
    return readdirSync(base)
      .filter((v) => /^v?\d/.test(v))
      .sort((a, b) => compareVersions(b, a))
      .map((v) => join(base, v, ...sub));
  } catch {
    return [];
  }
}

function compareVersions(a: string, b: string): number {
  const pa = a.replace(/^v/, "").split(".").map(Number);
  const pb = b.replace(/^v/, "").split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Number.isNaN(d) ? 0 : d;
  }
  return 0;
}

/**
 * npm's global prefixes that differ from a node's own folder: NPM_CONFIG_PREFIX (any case) and
 * `prefix=` in the user's ~/.npmrc (what `npm config set prefix ~/.npm-global` writes).
 */
export function npmGlobalPrefixes(options: LocateOptions = {}): string[] {
  const env = options.env ?? process.env;
  const home = options.home ?? homedir();
  const out: string[] = [];
  for (const key of ["NPM_CONFIG_PREFIX", "npm_config_prefix"]) {
    const v = env[key];
    if (v && v.trim() !== "") out.push(expandHome(v.trim(), home));
  }
  try {
    const rc = readFileSync(env.NPM_CONFIG_USERCONFIG ?? join(home, ".npmrc"), "utf8");
    for (const line of rc.split(/\r?\n/)) {
      const m = line.match(/^\s*prefix\s*=\s*(.+?)\s*$/);
      if (m && m[1]) out.push(expandHome(m[1].replace(/^["']|["']$/g, "").replace(/\$\{HOME\}/g, home), home));
    }
  } catch {
    // no ~/.npmrc
  }
  return [...new Set(out)];
}

/** Folders where `node` and globally installed npm commands usually live on macOS (and Linux). */
export function usualBinDirs(options: LocateOptions = {}): string[] {
  const env = options.env ?? process.env;
  const home = options.home ?? homedir();
  const dirs = [
    ...(env.PATH ?? "").split(delimiter).filter(Boolean),
    ...npmGlobalPrefixes(options).map((p) => join(p, "bin")),
    "/opt/homebrew/bin",
    "/usr/local/bin",
    join(home, ".npm-global", "bin"),
    join(home, ".volta", "bin"),
    ...(env.NVM_BIN ? [env.NVM_BIN] : []),
    ...versionBins(join(home, ".nvm", "versions", "node"), "bin"),
    ...(env.FNM_MULTISHELL_PATH ? [join(env.FNM_MULTISHELL_PATH, "bin")] : []),
    join(home, ".local", "share", "fnm", "aliases", "default", "bin"),
    join(home, "Library", "Application Support", "fnm", "aliases", "default", "bin"),
    join(home, ".fnm", "aliases", "default", "bin"),
    ...versionBins(join(home, ".local", "share", "fnm", "node-versions"), "installation", "bin"),
    ...versionBins(join(home, "Library", "Application Support", "fnm", "node-versions"), "installation", "bin"),
    join(home, ".asdf", "shims"),
    join(home, ".local", "share", "mise", "shims"),
    join(home, "Library", "pnpm"),
    join(home, ".bun", "bin"),
    join(home, ".yarn", "bin"),
    join(home, ".local", "bin"),
    join(home, "n", "bin"),
    "/opt/local/bin",
    "/usr/bin",
  ];
  return [...new Set(dirs)];
}

/** Where a program was looked for, for the "not found" message. */
export interface Located {
  path: string | undefined;
  searched: string[];
}

function locate(name: string, preferred: string | undefined, options: LocateOptions): Located {
  const home = options.home ?? homedir();
  const searched: string[] = [];
  if (preferred && preferred.trim() !== "") {
    const p = expandHome(preferred, home);
    searched.push(p);
    // A preference may name the program itself or the folder holding it.
    if (isFile(p)) return { path: p, searched };
    const inside = join(p, name);
    if (isFile(inside)) return { path: inside, searched: [...searched, inside] };
    return { path: undefined, searched };
  }
  for (const dir of usualBinDirs(options)) {
    const p = join(dir, name);
    searched.push(p);
    if (isExecutableFile(p)) return { path: p, searched };
  }
  return { path: undefined, searched };
}

/** The `node` to run memery with: the preference, else the usual places. */
export function locateNode(preferred: string | undefined, options: LocateOptions = {}): Located {
  return locate("node", preferred, options);
}

/** The `memery` command: the preference, else the usual places. */
export function locateMemery(preferred: string | undefined, options: LocateOptions = {}): Located {
  return locate("memery", preferred, options);
}

/**
 * Whether `path` is a JavaScript entry point (npm installs `memery` as a symlink to `bin/memery.js`
 * with a `#!/usr/bin/env node` line, which a launcher without node on its PATH cannot run).
 */
export function isNodeScript(path: string): boolean {
  let real = path;
  try {
    real = realpathSync(path);
  } catch {
    return false;
  }
  if ([".js", ".mjs", ".cjs"].includes(extname(real))) return true;
  try {
    const fd = openSync(real, "r");
    try {
      const buf = Buffer.alloc(128);
      const n = readSync(fd, buf, 0, buf.length, 0);
      const first = buf.subarray(0, n).toString("utf8").split("\n")[0] ?? "";
      return first.startsWith("#!") && /\bnode\b/.test(first);
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

/** PATH for child processes: node's folder first (for shims and `env node`), then the usual folders. */
export function childPath(nodePath: string | undefined, options: LocateOptions = {}): string {
  const dirs = usualBinDirs(options);
  if (nodePath) dirs.unshift(dirname(nodePath));
  return [...new Set(dirs)].join(delimiter);
}

/** What to tell a user whose `memery` was not found (the fix, in one sentence). */
export function memeryMissingHint(searched: string[] = []): string {
  const where = searched.length
    ? ` Looked in ${[...new Set(searched.map((p) => dirname(p)))].slice(0, 8).join(", ")}.`
    : "";
  return (
    "Install it with `npm install -g memery` (needs Node.js 20.19+: `brew install node`), then run `npm prefix -g` in Terminal: " +
    "memery is in its bin folder. Or set Memery Executable in the extension preferences to the output of `which memery`." +
    where
  );
}
