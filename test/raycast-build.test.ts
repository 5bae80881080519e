/**
 * The Raycast extension builds and lints the way the Store checks it. `ray build` generates
 * raycast-env.d.ts (the `Preferences` and `Arguments` types, from package.json: gitignored, as in
 * Raycast's template) and type-checks, so it runs first. `ray lint` runs as it is; offline, the two
 * checks of "validate package.json file" that need raycast.com (the author, a Raycast username, and
 * the manifest's JSON schema, both fetched from www.raycast.com) fail, and only those failures are
 * accepted: its other checks (package-lock.json, other lock files, icons, metadata, ESLint and
 * Prettier over src/, title case) must pass. eslint and prettier also run over the whole folder.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/images.js';
import { ROOT } from './helpers/shared.js';

const EXT = join(ROOT, 'raycast-extension');
const INSTALLED = existsSync(join(EXT, 'node_modules', '@raycast', 'api'));
const REQUIRED = process.env.MEMERY_REQUIRE_RAYCAST === '1';
const bin = (name: string): string => join(EXT, 'node_modules', '.bin', name);
const run = (cmd: string, args: string[]): string =>
  execFileSync(cmd, args, { cwd: EXT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: '1' } });

interface Manifest {
  commands: Array<{ name: string; title: string; mode: string }>;
  preferences: Array<{ name: string; type: string; required?: boolean; default?: unknown; data?: Array<{ value: string }> }>;
  engines?: { node?: string };
  scripts: Record<string, string>;
}
const manifest = (): Manifest => JSON.parse(readFileSync(join(EXT, 'package.json'), 'utf8')) as Manifest;
/** search-memes -> SearchMemes (how ray names a command's Preferences and Arguments types). */
const pascal = (name: string): string => name.replace(/(^|-)([a-z0-9])/g, (_m, _d, c: string) => c.toUpperCase());

/** What `ray lint` reports failing only for want of the network (www.raycast.com unreachable). */
const NETWORK_ONLY = [
  /Invalid author "[^"]+"\. HTTP request: request to https:\/\/www\.raycast\.com\/api\/v1\/users\/.* failed/,
  /Failed compiling JSON schema: request to https:\/\/www\.raycast\.com\/schemas\/extension\.json failed/,
];

describe.skipIf(!INSTALLED && !REQUIRED)(
  `raycast-extension builds and lints ${INSTALLED ? '' : '(run `npm ci` in raycast-extension/ to enable)'}`,
  () => {
    it('has its dependencies installed', () => {
      expect(INSTALLED).toBe(true);
      expect(existsSync(join(EXT, 'node_modules', '@raycast', 'utils'))).toBe(true);
    });

    it('`ray build -e dist` succeeds, writes every command and generates raycast-env.d.ts', () => {
      const out = tempDir('memery-ray-');
      try {
        run(bin('ray'), ['build', '-e', 'dist', '-o', out]);
        for (const c of manifest().commands) expect(existsSync(join(out, `${c.name}.js`)), c.name).toBe(true);
        expect(existsSync(join(out, 'package.json'))).toBe(true);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
      expect(existsSync(join(EXT, 'raycast-env.d.ts'))).toBe(true);
    });

    it("raycast-env.d.ts declares package.json's preferences and commands; src uses that Preferences type", () => {
      const env = readFileSync(join(EXT, 'raycast-env.d.ts'), 'utf8');
      const m = manifest();
      for (const p of m.preferences) {
        // Optional unless required or with a default (a checkbox or a dropdown always has a value).
        const optional = !p.required && p.default === undefined;
        expect(env, p.name).toContain(`"${p.name}"${optional ? '?' : ''}: `);
        if (p.type === 'dropdown') expect(env).toContain(`"${p.name}": ${p.data!.map((d) => `"${d.value}"`).join(' | ')}`);
        if (p.type === 'checkbox') expect(env).toContain(`"${p.name}": boolean`);
      }
      const names = [...env.matchAll(/^\s+"(\w+)"\??: /gm)].map((x) => x[1]);
      expect(names.sort()).toEqual(m.preferences.map((p) => p.name).sort());
      for (const c of m.commands) {
        expect(env).toContain(`export type ${pascal(c.name)} = ExtensionPreferences & {}`);
        expect(env).toContain(`Arguments passed to the \`${c.name}\` command`);
      }
      const src = readdirSync(join(EXT, 'src')).map((f) => readFileSync(join(EXT, 'src', f), 'utf8'));
      expect(src.join('\n')).not.toMatch(/(interface|type)\s+Preferences\b/);
      expect(src.join('\n')).toContain('getPreferenceValues<Preferences>()');
    });

    it('type-checks strictly (with the generated raycast-env.d.ts)', () => {
      expect(() => run(bin('tsc'), ['--noEmit'])).not.toThrow();
    });

    it('is eslint and prettier clean', () => {
      run(bin('eslint'), ['.']);
      const out = run(bin('prettier'), ['--check', '.']);
      expect(out).toMatch(/All matched files use Prettier code style/);
    });

    it('`ray lint` (the lint script) passes every check but those that need www.raycast.com', () => {
      expect(manifest().scripts.lint).toBe('ray lint');
      // CI=true: ray lint checks the lock files only then (as the Store's CI runs it).
      const r = spawnSync(bin('ray'), ['lint'], {
        cwd: EXT,
        encoding: 'utf8',
        timeout: 120_000,
        env: { ...process.env, CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0' },
      });
      const text = `${r.stdout}\n${r.stderr}`;
      const steps = new Map([...text.matchAll(/^(ready|error|warn)\s+-\s+(.+)$/gm)].map((x) => [x[2]!.trim(), x[1]!]));
      for (const step of ['validate package-lock.json', 'validate other lock files', 'validate extension icons', 'run ESLint']) {
        expect(steps.get(step), `${step}\n${text}`).toBe('ready');
      }
      expect([...steps].find(([k]) => k.startsWith('run Prettier'))?.[1], text).toBe('ready');
      if (r.status === 0) return; // online, and the author is a Raycast user: everything passed
      expect(steps.get('validate package.json file'), text).toBe('error');
      // Every reported problem is one of the network failures (no schema, title-case or spelling error).
      const problems = text
        .split('\n')
        .filter((l) => /^\s*(\d+:\d+\s+)?(error|warning)\s{2}/.test(l) && !/^(ready|error|warn)\s+-\s/.test(l))
        .map((l) => l.trim());
      expect(problems.length, text).toBeGreaterThan(0);
      for (const p of problems) expect(NETWORK_ONLY.some((re) => re.test(p)), `${p}\n${text}`).toBe(true);
    });

    it("states @raycast/api's Node requirement in engines", () => {
      const api = JSON.parse(readFileSync(join(EXT, 'node_modules', '@raycast', 'api', 'package.json'), 'utf8')) as Manifest;
      expect(manifest().engines?.node).toBe(api.engines?.node);
    });
  },
);
