/**
 * The CLI at the level its ecosystem expects: a search without a folder searches every indexed
 * folder; --exclude and .memeryignore; --color and FORCE_COLOR/NO_COLOR; the configuration listed
 * in --help (generated from the schema), `memery config [--json|--schema]`; and the small things
 * (status's server line, model sizes, `models download` without a name, an unknown --model, why a
 * search found nothing, a query longer than the text model reads). The real built CLI, in a child
 * process, with the colour-CLIP test model.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IndexSummarySchema, type IndexSummary } from '../ts/api/schemas.js';
import { useColor } from '../ts/cli/context.js';
import { configKeys } from '../ts/config/load.js';
import { formatBytes } from '../ts/models/progress.js';
import { DEFAULT_MODEL_NAME, MODEL_REGISTRY } from '../ts/models/registry.js';
import { CLI_BUILT, STACK_LINE, runCli, runColour, type CliResult } from './helpers/cli.js';
import { cleanupTemps, cliTemp } from './helpers/cli.js';
import { writeColourSet, writeSolid } from './helpers/images.js';
import { ROOT } from './helpers/shared.js';

const built = CLI_BUILT ? '' : ' (dist/ts/cli/main.js missing: run `npm run build:ts`)';
const temp = (prefix = 'memery-cli-opt-'): string => cliTemp(prefix);
afterAll(cleanupTemps);

function ok(r: CliResult): CliResult {
  expect(r.code, r.stderr).toBe(0);
  return r;
}

const summaryOf = (r: CliResult): IndexSummary => IndexSummarySchema.parse(JSON.parse(ok(r).stdout));
const pathsOf = (r: CliResult): string[] => (JSON.parse(ok(r).stdout) as { results: Array<{ path: string }> }).results.map((x) => x.path);
const ANSI = /\x1b\[[0-9;]*m/;

describe('useColor', () => {
  const tty = { write: () => true, isTTY: true };
  const pipe = { write: () => true, isTTY: false };
  it('auto: a TTY, unless NO_COLOR or TERM=dumb; FORCE_COLOR turns it on in a pipe (0 off)', () => {
    expect(useColor(tty, {}, 'auto')).toBe(true);
    expect(useColor(pipe, {}, 'auto')).toBe(false);
    expect(useColor(tty, { NO_COLOR: '1' }, 'auto')).toBe(false);
    expect(useColor(tty, { NO_COLOR: '' }, 'auto')).toBe(true);
    expect(useColor(tty, { TERM: 'dumb' }, 'auto')).toBe(false);
    expect(useColor(pipe, { FORCE_COLOR: '1' }, 'auto')).toBe(true);
    expect(useColor(tty, { FORCE_COLOR: '0' }, 'auto')).toBe(false);
  });
  it('always and never win over the environment', () => {
    expect(useColor(pipe, { NO_COLOR: '1' }, 'always')).toBe(true);
    expect(useColor(tty, { FORCE_COLOR: '1' }, 'never')).toBe(false);
  });
});

describe.skipIf(!CLI_BUILT)(`memery CLI options${built}`, () => {
  describe('search without a folder', () => {
    it('searches every indexed folder, without indexing; a folder still limits it', async () => {
      const home = temp();
      const a = temp();
      const b = temp();
      await writeSolid(join(a, 'red.png'), [255, 0, 0]);
      await writeSolid(join(a, 'green.png'), [0, 255, 0]);
      await writeSolid(join(b, 'crimson.png'), [250, 10, 10]);
      await writeSolid(join(b, 'blue.png'), [0, 0, 255]);
      ok(await runColour(['index', a, b, '--no-ocr'], { home }));
      // A file added after indexing is not seen: no folder means no indexing first.
      await writeSolid(join(b, 'late.png'), [255, 0, 0]);
      const all = await runColour(['search', 'red', 'thing', '--json', '-n', '10'], { home });
      const paths = pathsOf(all);
      expect(paths).toEqual(expect.arrayContaining([join(a, 'red.png'), join(b, 'crimson.png')]));
      expect(paths).toHaveLength(4);
      const out = JSON.parse(all.stdout) as { query: unknown; folder: unknown };
      expect(out.query).toEqual({ text: 'red thing' });
      expect(out.folder).toBeNull();
      // The first word is an existing folder: as before, that folder only (indexed first).
      const one = pathsOf(await runColour(['search', b, 'red', '--json', '--no-ocr'], { home }));
      expect(one.sort()).toEqual([join(b, 'blue.png'), join(b, 'crimson.png'), join(b, 'late.png')]);
      // --help says the rule.
      const help = ok(await runCli(['search', '--help'], { home }));
      expect(help.stdout).toMatch(/folder rule/);
      expect(help.stdout).toMatch(/memery search "dad joke"/);
    });

    it('with nothing indexed: exit 1 saying so; a missing path is still a missing folder', async () => {
      const r = await runColour(['search', 'dad', 'joke'], { home: temp() });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/No folder is indexed yet/);
      expect(r.stderr).not.toMatch(STACK_LINE);
      const missing = join(temp(), 'gone');
      const m = await runColour(['search', missing, 'red'], { home: temp() });
      expect(m.code).toBe(1);
      expect(m.stderr).toContain(missing);
      // Without any argument: a usage error asking for a query.
      const none = await runColour(['search'], { home: temp() });
      expect(none.code).toBe(2);
      expect(none.stderr).toMatch(/Expected a query/);
    });
  });

  describe('--exclude and .memeryignore', () => {
    it('.memeryignore (drafts/, *.gif) leaves files out, a deeper file can take one back, and what is left out leaves the catalog', async () => {
      const home = temp();
      const dir = temp();
      await writeColourSet(dir); // 8 PNGs
      mkdirSync(join(dir, 'drafts'));
      mkdirSync(join(dir, 'sub', 'drafts'), { recursive: true });
      await writeSolid(join(dir, 'drafts', 'd1.png'), [10, 20, 30]);
      await writeSolid(join(dir, 'sub', 'drafts', 'd2.png'), [30, 20, 10]);
      await writeSolid(join(dir, 'sub', 'kept.png'), [90, 90, 90]);
      copyFileSync(join(dir, 'red.png'), join(dir, 'anim.gif'));
      copyFileSync(join(dir, 'blue.png'), join(dir, 'sub', 'keep.gif'));
      const first = summaryOf(await runColour(['index', dir, '--json', '--no-ocr'], { home }));
      expect(first).toMatchObject({ found: 13, removed: 0, failed: 0 });

      writeFileSync(join(dir, '.memeryignore'), '# left out\ndrafts/\n*.gif\n');
      writeFileSync(join(dir, 'sub', '.memeryignore'), '!keep.gif\n');
      const second = summaryOf(await runColour(['index', dir, '--json', '--no-ocr'], { home }));
      // anim.gif, drafts/d1.png, sub/drafts/d2.png are out; sub/keep.gif is back in by sub's file.
      expect(second).toMatchObject({ found: 10, removed: 3, new: 0 });
      const paths = pathsOf(await runColour(['search', dir, 'red', '--no-index', '--json', '-n', '50'], { home }));
      expect(paths).toHaveLength(10);
      expect(paths).toContain(join(dir, 'sub', 'keep.gif'));
      expect(paths.some((p) => p.includes('drafts') || p.endsWith('anim.gif'))).toBe(false);
    });

    it('--exclude (repeatable) on index and on search', async () => {
      const home = temp();
      const dir = temp();
      const files = await writeColourSet(dir);
      mkdirSync(join(dir, 'old'));
      await writeSolid(join(dir, 'old', 'x.png'), [1, 2, 3]);
      expect(summaryOf(await runColour(['index', dir, '--json', '--no-ocr'], { home }))).toMatchObject({ found: 9 });
      const ex = summaryOf(await runColour(['index', dir, '--json', '--no-ocr', '--exclude', 'old/', '--exclude', 'red.*'], { home }));
      expect(ex).toMatchObject({ found: 7, removed: 2 });
      // search --exclude: left out when indexing first, and from the results.
      const s = pathsOf(await runColour(['search', dir, 'blue', '--json', '--no-ocr', '--exclude', 'blue.png', '-n', '50'], { home }));
      expect(s).not.toContain(files.blue);
      // This run did not exclude red.* or old/: they are part of the folder again.
      expect(s).toContain(files.red);
      expect(s).toContain(join(dir, 'old', 'x.png'));
      expect(s).toHaveLength(8);
    });
  });

  describe('--color', () => {
    it('always gives ANSI codes in a pipe; never and NO_COLOR do not; FORCE_COLOR=1 does', async () => {
      const home = temp();
      const always = ok(await runCli(['--color', 'always', 'models', 'list'], { home }));
      expect(always.stdout).toMatch(ANSI);
      const never = ok(await runCli(['models', 'list', '--color', 'never'], { home, env: { NO_COLOR: undefined, FORCE_COLOR: '1' } }));
      expect(never.stdout).not.toMatch(ANSI);
      const noColor = ok(await runCli(['models', 'list'], { home, env: { NO_COLOR: '1', FORCE_COLOR: undefined } }));
      expect(noColor.stdout).not.toMatch(ANSI);
      const auto = ok(await runCli(['models', 'list'], { home, env: { NO_COLOR: undefined, FORCE_COLOR: undefined } }));
      expect(auto.stdout).not.toMatch(ANSI); // a pipe
      const forced = ok(await runCli(['models', 'list'], { home, env: { NO_COLOR: undefined, FORCE_COLOR: '1' } }));
      expect(forced.stdout).toMatch(ANSI);
      const bad = await runCli(['--color', 'sometimes', 'status'], { home });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/'sometimes' is invalid/);
    });
  });

  describe('configuration', () => {
    it('--help lists every config key with its environment variable (generated from the schema)', async () => {
      const r = ok(await runCli(['--help'], { home: temp() }));
      const keys = configKeys();
      expect(keys.length).toBeGreaterThan(10);
      for (const k of keys) expect(r.stdout).toMatch(new RegExp(`^  ${k.key} +${k.env} `, 'm'));
      for (const v of ['MEMERY_HOME', 'NO_COLOR', 'FORCE_COLOR', 'MEMERY_ERROR_FORMAT']) expect(r.stdout).toContain(v);
    });

    it("README's CLI section lists every config key and environment variable", () => {
      const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
      const cli = readme.slice(readme.indexOf('## CLI'), readme.indexOf('\n## ', readme.indexOf('## CLI') + 1));
      for (const k of configKeys()) {
        expect(cli, k.key).toContain(`\`${k.key}\``);
        expect(cli, k.env).toContain(`\`${k.env}\``);
      }
      for (const v of ['MEMERY_HOME', 'NO_COLOR', 'FORCE_COLOR', '--color', '--exclude', '.memeryignore', 'memery config']) expect(cli, v).toContain(v);
    });

    it('memery config shows each value and where it came from; --json too', async () => {
      const home = temp();
      writeFileSync(join(home, 'config.json'), JSON.stringify({ batchSize: 8, exclude: ['*.gif'] }));
      const env = { MEMERY_THREADS: '2', MEMERY_OCR: 'false' };
      const j = ok(await runCli(['config', '--json', '--provider', 'cpu'], { home, env }));
      const out = JSON.parse(j.stdout) as { home: string; file: string; config: Record<string, unknown>; sources: Record<string, string>; env: Record<string, string> };
      expect(out.home).toBe(home);
      expect(out.file).toBe(join(home, 'config.json'));
      expect(out.config).toMatchObject({ batchSize: 8, threads: 2, ocr: false, provider: 'cpu', indexType: 'flat', exclude: ['*.gif'] });
      expect(out.sources).toMatchObject({ batchSize: 'config.json', exclude: 'config.json', threads: 'environment', ocr: 'environment', provider: 'command line', indexType: 'default' });
      expect(out.env.batchSize).toBe('MEMERY_BATCH_SIZE');
      expect(Object.keys(out.sources).sort()).toEqual(configKeys().map((k) => k.key).sort());
      const t = ok(await runCli(['config', '--provider', 'cpu'], { home, env }));
      expect(t.stdout).toMatch(/^batchSize +8 +config\.json$/m);
      expect(t.stdout).toMatch(/^threads +2 +environment \(MEMERY_THREADS\)$/m);
      expect(t.stdout).toMatch(/^provider +cpu +command line$/m);
      expect(t.stdout).toMatch(/^indexType +flat +default$/m);
      // A bad value names its variable.
      const bad = await runCli(['config'], { home, env: { MEMERY_BATCH_SIZE: 'lots' } });
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/MEMERY_BATCH_SIZE/);
    });

    it('memery config --schema prints a JSON Schema of config.json', async () => {
      const r = ok(await runCli(['config', '--schema'], { home: temp() }));
      const s = JSON.parse(r.stdout) as { $schema: string; type: string; additionalProperties: boolean; properties: Record<string, { type?: string; default?: unknown; description?: string }> };
      expect(s.$schema).toMatch(/json-schema\.org/);
      expect(s.type).toBe('object');
      expect(s.additionalProperties).toBe(false);
      expect(Object.keys(s.properties).sort()).toEqual(configKeys().map((k) => k.key).sort());
      expect(s.properties.batchSize).toMatchObject({ type: 'integer', default: 16 });
      expect(s.properties.model!.default).toBe(DEFAULT_MODEL_NAME);
      expect(s.properties.ocr!.description).toMatch(/OCR/);
    });
  });

  describe('small things', () => {
    it('status says "server  not running" (no doubled label)', async () => {
      const r = ok(await runColour(['status'], { home: temp() }));
      expect(r.stdout).toMatch(/^server +not running$/m);
      expect(r.stdout).not.toMatch(/server +server/);
    });

    it('models list shows sizes: on disk when installed, else whether it is known', async () => {
      const home = temp();
      const dir = join(home, 'models', 'clip-vit-base-patch32');
      mkdirSync(join(dir, 'onnx'), { recursive: true });
      writeFileSync(join(dir, 'onnx', 'text_model.onnx'), Buffer.alloc(5000));
      const j = JSON.parse(ok(await runCli(['models', 'list', '--json'], { home })).stdout) as { models: Array<{ name: string; bytes: number; downloadBytes: number | null }> };
      expect(j.models.find((m) => m.name === 'clip-vit-base-patch32')!.bytes).toBe(5000);
      expect(j.models.find((m) => m.name === DEFAULT_MODEL_NAME)).toMatchObject({ bytes: 0 });
      expect(j.models.every((m) => 'downloadBytes' in m)).toBe(true);
      const t = ok(await runCli(['models', 'list'], { home }));
      expect(t.stdout).toContain(`${formatBytes(5000)} on disk`);
      expect(t.stdout).toMatch(new RegExp(`${DEFAULT_MODEL_NAME}  not installed  \\((size known once downloaded|[0-9.]+ [kMG]?B to download)\\)?`));
    });

    it('models download without a name picks the model in use (--dry-run, nothing fetched)', async () => {
      const home = temp();
      const plan = (r: CliResult) => JSON.parse(ok(r).stdout) as { name: string; dir: string; endpoint: string; files: Array<{ path: string }> };
      const env = { MEMERY_HF_ENDPOINT: 'http://127.0.0.1:9/' };
      const d = plan(await runCli(['models', 'download', '--dry-run', '--json'], { home, env }));
      expect(d.name).toBe(DEFAULT_MODEL_NAME);
      expect(d.dir).toBe(join(home, 'hf', 'hub', `models--immich-app--${DEFAULT_MODEL_NAME}`));
      expect(d.endpoint).toMatch(/^http:\/\/127.0.0.1:9\/?$/);
      expect(d.files.map((f) => f.path)).toEqual(MODEL_REGISTRY.find((e) => e.name === DEFAULT_MODEL_NAME)!.files.map((f) => f.path));
      expect(plan(await runCli(['models', 'download', '--dry-run', '--json'], { home, env: { ...env, MEMERY_MODEL: 'clip-vit-base-patch32' } })).name).toBe('clip-vit-base-patch32');
      expect(plan(await runCli(['--model', 'clip-vit-base-patch32-quantized', 'models', 'download', '--dry-run', '--json'], { home, env })).name).toBe(
        'clip-vit-base-patch32-quantized',
      );
      const text = ok(await runCli(['models', 'download', '--dry-run'], { home, env }));
      expect(text.stdout).toMatch(new RegExp(`would download ${DEFAULT_MODEL_NAME}`));
    });

    it('an unknown --model is a usage error (exit 2) naming the known ones', async () => {
      for (const args of [['--model', 'nope', 'search', '.', 'red'], ['models', 'download', '--model', 'nope'], ['--model', 'nope', 'status']]) {
        const r = await runCli(args, { home: temp() });
        expect(r.code, args.join(' ')).toBe(2);
        expect(r.stderr).toContain('"nope"');
        for (const e of MODEL_REGISTRY) expect(r.stderr).toContain(e.name);
        expect(r.stderr).not.toMatch(STACK_LINE);
      }
    });

    describe('no results say why', () => {
      let dir: string;
      beforeAll(async () => {
        dir = temp();
        await writeColourSet(dir);
      });

      it('a folder not in the catalog (--no-index)', async () => {
        const r = ok(await runColour(['search', dir, 'red', '--no-index'], { home: temp() }));
        expect(r.stdout).toBe('');
        expect(r.stderr).toMatch(/^No results: .+ is not in the catalog \(--no-index/m);
        expect(r.stderr).toContain(dir);
      });

      it('an empty folder', async () => {
        const empty = temp();
        writeFileSync(join(empty, 'notes.txt'), 'no images here');
        const r = ok(await runColour(['search', empty, 'red', '--no-ocr'], { home: temp() }));
        expect(r.stderr).toMatch(/No results: .+ is empty: it holds no images/);
      });

      it('the threshold, with the best score', async () => {
        const home = temp();
        const r = ok(await runColour(['search', dir, 'red', '--no-ocr', '--threshold', '1', '--mode', 'clip'], { home }));
        const best = JSON.parse(ok(await runColour(['search', dir, 'red', '--no-index', '-n', '1', '--json', '--mode', 'clip'], { home })).stdout) as { results: Array<{ score: number }> };
        if (best.results[0]!.score >= 1) return; // nothing to filter (a perfect match)
        expect(r.stderr).toMatch(new RegExp(`No results: no result scored at least the threshold 1 \\(--threshold\\); the best scored ${best.results[0]!.score}`));
      });
    });

    it('a query longer than the text model reads is reported once on stderr', async () => {
      const dir = temp();
      await writeColourSet(dir);
      const long = Array.from({ length: 100 }, (_, i) => (i % 2 ? 'red' : 'blue')).join(' ');
      const r = ok(await runColour(['search', dir, long, '--json', '--no-ocr'], { home: temp() }));
      const warnings = r.stderr.split('\n').filter((l) => /tokens long but the text model reads \d+/.test(l));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/102 tokens long but the text model reads 77/);
      const short = ok(await runColour(['search', dir, 'red', '--json', '--no-ocr', '--no-index'], { home: temp() }));
      expect(short.stderr).not.toMatch(/tokens long/);
    });
  });
});
