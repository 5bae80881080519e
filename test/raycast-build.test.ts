import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
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

describe.skipIf(!INSTALLED && !REQUIRED)(
  `raycast-extension builds and lints ${INSTALLED ? '' : '(run `npm ci` in raycast-extension/ to enable)'}`,
  () => {
    it('has its dependencies installed', () => {
      expect(INSTALLED).toBe(true);
    });
    it('type-checks strictly', () => {
      expect(() => run(bin('tsc'), ['--noEmit'])).not.toThrow();
    });
    it('is eslint and prettier clean', () => {
      run(bin('eslint'), ['.']);
      const out = run(bin('prettier'), ['--check', '.']);
      expect(out).toMatch(/All matched files use Prettier code style/);
    });
    it('`ray build -e dist` succeeds and writes the commands', () => {
      const out = tempDir('memery-ray-');
      run(bin('ray'), ['build', '-e', 'dist', '-o', out]);
      expect(existsSync(join(out, 'search-memes.js'))).toBe(true);
      expect(existsSync(join(out, 'index-folder.js'))).toBe(true);
      expect(existsSync(join(out, 'package.json'))).toBe(true);
      rmSync(out, { recursive: true, force: true });
    });
  },
);
