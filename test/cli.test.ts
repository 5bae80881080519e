/**
 * The `memery` command end to end: the real built CLI in a child process, with MEMERY_HOME in a
 * temp folder and the colour-CLIP test model (--model-dir). Exit codes, messages, help, tokenize,
 * preprocess, the shared meme folder and incremental indexing.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IndexSummarySchema, type IndexSummary } from '../ts/api/schemas.js';
import { imageInfo } from '../ts/native/index.js';
import { CLI_BUILT, COLOUR_MODEL, STACK_LINE, runCli, runColour, type CliResult } from './helpers/cli.js';
import { cleanupTemps, cliTemp } from './helpers/cli.js';
import { COLOURS, writeColourSet, writeSolid } from './helpers/images.js';
import { HAS_SHARED, ROOT, SHARED_SKIP_REASON, shared } from './helpers/shared.js';
import { setImageText } from './helpers/texts.js';

const built = CLI_BUILT ? '' : ' (dist/ts/cli/main.js missing: run `npm run build:ts`)';
const temp = (prefix = 'memery-cli-'): string => cliTemp(prefix);
afterAll(cleanupTemps);

function ok(r: CliResult): CliResult {
  expect(r.code, r.stderr).toBe(0);
  return r;
}

function summaryOf(stdout: string): IndexSummary {
  return IndexSummarySchema.parse(JSON.parse(stdout));
}

describe.skipIf(!CLI_BUILT)(`memery CLI${built}`, () => {
  describe('basics', () => {
    it('--version prints the version from package.json', async () => {
      const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
      const r = await runCli(['--version'], { home: temp() });
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(pkg.version);
    });

    it('--help of every command shows an example', async () => {
      const home = temp();
      const commands = [[], ['index'], ['search'], ['recall'], ['models'], ['models', 'list'], ['models', 'download'], ['models', 'verify'], ['models', 'remove'], ['status'], ['forget'], ['tokenize'], ['preprocess'], ['completion'], ['serve']];
      const runs = await Promise.all(commands.map((c) => runCli([...c, '--help'], { home })));
      runs.forEach((r, i) => {
        const name = commands[i]!.join(' ') || '(top level)';
        expect(r.code, name).toBe(0);
        expect(r.stdout, name).toMatch(/Examples:\n\s+\$ .*memery /);
        expect(r.stderr, name).toBe('');
      });
      expect(runs[2]!.stdout).toMatch(/--format <format>/);
      // search --help says how to search for "--help" and what to use for names with newlines.
      expect(runs[2]!.stdout).toMatch(/memery search ~\/Pictures -- --help/);
      expect(runs[2]!.stdout).toMatch(/newline[\s\S]*use -0 or --json/);
    });

    it('a query after -- is searched as text, even when it reads like an option', async () => {
      const home = temp();
      const dir = temp('memery-cli-dash-');
      await writeColourSet(dir);
      const r = ok(await runCli(['--model-dir', COLOUR_MODEL, 'search', dir, '--json', '--', '--help'], { home }));
      const out = JSON.parse(r.stdout) as { query: unknown; results: unknown[] };
      expect(JSON.stringify(out.query)).toContain('--help');
      expect(out.results.length).toBeGreaterThan(0);
    });

    it('tokenize prints one JSON array of unpadded ids per text', async () => {
      const r = await runCli(['--model-dir', COLOUR_MODEL, 'tokenize', '--', 'a dog', 'red'], { home: temp() });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('[49406,320,1929,49407]\n[49406,736,49407]\n');
    });

    it('tokenize reads lines from stdin when no TEXT is given', async () => {
      const r = await runCli(['tokenize', '--model-dir', COLOUR_MODEL], { home: temp(), input: 'a dog\n' });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('[49406,320,1929,49407]\n');
    });

    it('preprocess writes the 224x224 crop as a PNG', async () => {
      const dir = temp();
      const src = join(dir, 'wide.png');
      await writeSolid(src, [200, 30, 30], 400, 300);
      const out = join(dir, 'crop.png');
      const r = await runColour(['preprocess', src, '-o', out], { home: temp() });
      expect(r.stderr).toContain(out);
      expect(r.code).toBe(0);
      const info = await imageInfo(out);
      expect(info).toMatchObject({ width: 224, height: 224, format: 'png' });
      expect(info.bands).toBe(3);
      // Without a model (none given, none installed) the size is 224 too.
      const out2 = join(dir, 'crop2.png');
      const r2 = await runCli(['preprocess', src, '-o', out2], { home: temp() });
      expect(r2.code).toBe(0);
      expect((await imageInfo(out2)).width).toBe(224);
    });

    it('completion prints a script for bash, zsh and fish', async () => {
      const home = temp();
      for (const shell of ['bash', 'zsh', 'fish']) {
        const r = await runCli(['completion', shell], { home });
        expect(r.code, shell).toBe(0);
        expect(r.stdout, shell).toContain('memery');
        expect(r.stdout, shell).toContain('search');
        expect(r.stdout, shell).toContain('--model-dir'.slice(shell === 'fish' ? 2 : 0));
      }
    });

    it('serve without a server module in the build exits 1 with a message', async () => {
      if (existsSync(join(ROOT, 'dist', 'ts', 'server', 'index.js'))) return; // the server issue's tests cover it
      const r = await runCli(['serve'], { home: temp() });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('server not available in this build');
    });
  });

  describe('exit codes and messages', () => {
    let colours: string;
    beforeAll(async () => {
      colours = temp();
      await writeColourSet(colours);
    });

    it.each([
      ['an unknown flag', ['search', '.', 'red', '--bogus'], /unknown option '--bogus'/],
      ['no folder and no query', ['search'], /Expected a query/],
      ['a non-number -n', ['search', '.', 'red', '-n', 'abc'], /'abc' is invalid.*whole number/],
      ['-n 0', ['search', '.', 'red', '-n', '0'], /'0' is invalid/],
      ['a threshold out of range', ['search', '.', 'red', '--threshold', '1.5'], /'1\.5' is invalid/],
      ['no query at all', ['search', '.'], /Expected a query/],
      ['two output formats', ['search', '.', 'red', '--json', '-0'], /one output format/],
      ['an unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
      ['a bad provider', ['--provider', 'gpu', 'status'], /'gpu' is invalid/],
      ['preprocess without -o', ['preprocess', 'x.png'], /required option '-o, --output <file>'/],
      ['an unknown completion shell', ['completion', 'tcsh'], /tcsh/],
    ])('%s: exit 2', async (_name, args, message) => {
      const r = await runColour(args, { home: temp() });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(STACK_LINE);
      expect(r.stdout).toBe('');
    });

    it('a missing folder: exit 1, the message names it, no stack trace', async () => {
      const missing = join(temp(), 'no-such-folder');
      for (const args of [['index', missing], ['search', missing, 'red'], ['search', missing, 'red', '--no-index']]) {
        const r = await runColour(args, { home: temp() });
        expect(r.code, args.join(' ')).toBe(1);
        expect(r.stderr).toContain(missing);
        expect(r.stderr).not.toMatch(STACK_LINE);
      }
    });

    it('a --model-dir that is not a model: exit 1, the message names it', async () => {
      const notModel = temp();
      const r = await runCli(['search', colours, 'red', '--model-dir', notModel], { home: temp() });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(notModel);
      expect(r.stderr).toMatch(/hint: /);
      expect(r.stderr).not.toMatch(STACK_LINE);
      // --debug shows the stack.
      const d = await runCli(['search', colours, 'red', '--model-dir', notModel, '--debug'], { home: temp() });
      expect(d.code).toBe(1);
      expect(d.stderr).toMatch(STACK_LINE);
    });

    it('an unknown registry model: a usage error (exit 2) naming it and the known ones', async () => {
      const r = await runCli(['--model', 'no-such-model', 'search', colours, 'red'], { home: temp() });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('no-such-model');
      expect(r.stderr).toMatch(/Known models: /);
      expect(r.stderr).not.toMatch(STACK_LINE);
    });

    it('forget of a folder not in the catalog: exit 1', async () => {
      const r = await runColour(['forget', colours], { home: temp() });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(colours);
    });

    it('decode failures are reported but exit 0', async () => {
      const dir = temp();
      await writeColourSet(dir);
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(dir, 'broken.jpg'), 'not an image at all');
      const r = await runColour(['index', dir], { home: temp() });
      expect(r.code).toBe(0);
      expect(r.stderr).toContain(`${join(dir, 'broken.jpg')}: `);
      expect(r.stderr).toMatch(/9 found, 8 new, .* 1 failed/);
      expect(r.stderr).not.toMatch(STACK_LINE);
    });
  });

  describe.skipIf(!HAS_SHARED)(`the shared meme folder ${HAS_SHARED ? '' : SHARED_SKIP_REASON}`, () => {
    const memes = shared('corpus', 'memes');
    let home: string;
    beforeAll(() => {
      home = temp();
    });

    it('index --json: exit 0, the corrupt file named on stderr, counts in the summary', async () => {
      const r = await runColour(['index', memes, '--json'], { home });
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/corrupted-file\.jpeg: .+/);
      expect(r.stderr).toMatch(/80 found, 79 new, 0 unchanged, 0 re-embedded, 0 moved, 0 removed, 1 failed/);
      const s = summaryOf(r.stdout);
      expect(s).toMatchObject({ folder: memes, found: 80, new: 79, failed: 1 });
      expect(s.errors.map((e) => e.path)).toEqual([join(memes, 'corrupted-file.jpeg')]);
    });

    it('then search works (and the second index run has nothing to do)', async () => {
      const r = await runColour(['search', memes, 'red', '-n', '5', '--json'], { home });
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout) as { query: unknown; results: Array<{ path: string; score: number }> };
      expect(out.query).toEqual({ text: 'red' });
      expect(out.results).toHaveLength(5);
      for (const x of out.results) expect(x.path.startsWith(`${memes}/`)).toBe(true);
      expect(r.stderr).toBe(''); // nothing changed: the known failure is not repeated
      const again = await runColour(['index', memes, '--json'], { home });
      expect(summaryOf(again.stdout)).toMatchObject({ found: 80, unchanged: 80, new: 0, failed: 1 });
    });

    it('status lists the folder and says no server is running', async () => {
      const r = await runColour(['status'], { home });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(memes);
      expect(r.stdout).toMatch(/^server +not running$/m);
      const j = await runColour(['status', '--json'], { home });
      const s = JSON.parse(j.stdout) as { counts: { files: number; failed: number }; server: { running: boolean } };
      expect(s.counts).toMatchObject({ files: 79, failed: 1 });
      expect(s.server.running).toBe(false);
    });
  });

  describe.skipIf(!existsSync(join(ROOT, 'dist', 'ts', 'server', 'index.js')))('with a running server', () => {
    it('search goes through `memery serve` (no model loaded here) with the same results; status says so', async () => {
      const home = temp();
      const dir = temp();
      const files = await writeColourSet(dir);
      const local = ok(await runColour(['search', dir, 'red', '--json'], { home }));
      let child: ChildProcess | undefined;
      let listening!: () => void;
      const ready = new Promise<void>((r) => (listening = r));
      const served = runColour(['serve', '--port', '0'], {
        home,
        onSpawn: (c) => {
          child = c;
          c.stderr!.on('data', (b: Buffer) => {
            if (b.toString().includes('listening on')) listening();
          });
        },
      });
      try {
        await Promise.race([ready, served.then((r) => Promise.reject(new Error(`serve exited: ${r.stderr}`)))]);
        // No --model-dir and no reachable download endpoint: only the server can answer.
        const env = { MEMERY_HF_ENDPOINT: 'http://127.0.0.1:9/' };
        const viaServer = ok(await runCli(['search', dir, 'red', '--json'], { home, env }));
        expect(JSON.parse(viaServer.stdout)).toEqual(JSON.parse(local.stdout));
        expect((JSON.parse(viaServer.stdout) as { results: Array<{ path: string }> }).results[0]!.path).toBe(files.red);
        const st = ok(await runColour(['status'], { home }));
        expect(st.stdout).toMatch(/^server +running \(http/m);
        // --mode and --no-ocr go through the server too (no model here: it must answer).
        const clip = ok(await runCli(['search', dir, 'red', '--mode', 'clip', '--no-ocr', '--json'], { home, env }));
        expect((JSON.parse(clip.stdout) as { results: Array<{ path: string }> }).results[0]!.path).toBe(files.red);
        setImageText(home, files.white!, 'That was very\ncash money of you');
        const words = ok(await runCli(['search', dir, 'cash money', '--mode', 'text', '--json'], { home, env }));
        const hits = (JSON.parse(words.stdout) as { results: Array<{ path: string; text: string; match: { score: number } }> }).results;
        expect(hits.map((h) => h.path)).toEqual([files.white]);
        expect(hits[0]!.text).toBe('That was very\ncash money of you');
        expect(ok(await runColour(['status'], { home })).stdout).toMatch(/8 indexed, 0 failed, 8 embeddings, 1 with text/);
        expect((JSON.parse(ok(await runColour(['status', '--json'], { home })).stdout) as { counts: { texts: number } }).counts.texts).toBe(1);
      } finally {
        child?.kill('SIGINT');
      }
      const end = await served;
      expect(end.code).toBe(0);
      // The server is gone: status says no.
      expect(ok(await runColour(['status'], { home })).stdout).toMatch(/^server +not running$/m);
    });
  });

  describe('incremental indexing through the CLI', () => {
    it('unchanged, moved, removed, re-embedded', async () => {
      const home = temp();
      const dir = temp();
      const files = await writeColourSet(dir);
      const index = async () => {
        const r = await runColour(['index', dir, '--json'], { home });
        expect(r.code, r.stderr).toBe(0);
        return summaryOf(r.stdout);
      };
      const n = Object.keys(COLOURS).length;
      expect(await index()).toMatchObject({ found: n, new: n, failed: 0 });
      expect(await index()).toMatchObject({ found: n, unchanged: n, new: 0, reembedded: 0, moved: 0, removed: 0 });

      renameSync(files.red!, join(dir, 'crimson.png'));
      expect(await index()).toMatchObject({ found: n, moved: 1, removed: 0, new: 0, reembedded: 0, unchanged: n - 1 });
      const s1 = await runColour(['search', dir, 'red', '-n', '1', '--no-index', '--paths'], { home });
      expect(s1.stdout).toBe(`${join(dir, 'crimson.png')}\n`);

      unlinkSync(files.blue!);
      expect(await index()).toMatchObject({ found: n - 1, removed: 1, new: 0, moved: 0 });

      await new Promise((r) => setTimeout(r, 20)); // a distinct mtime
      await writeSolid(files.green!, [250, 250, 10], 90, 60); // green.png now looks yellow
      expect(await index()).toMatchObject({ found: n - 1, reembedded: 1, new: 0, moved: 0, removed: 0 });

      const s2 = await runColour(['search', dir, 'blue', '--no-index', '--json'], { home });
      const paths = (JSON.parse(s2.stdout) as { results: Array<{ path: string }> }).results.map((r) => r.path);
      expect(paths).not.toContain(files.blue);
      expect(paths).toHaveLength(n - 1);
    });

    it('forget removes the folder from the catalog', async () => {
      const home = temp();
      const dir = temp();
      await writeColourSet(dir);
      expect((await runColour(['index', dir], { home })).code).toBe(0);
      const f = await runColour(['forget', dir], { home });
      expect(f.code).toBe(0);
      expect(f.stderr).toMatch(/8 files removed/);
      const s = await runColour(['search', dir, 'red', '--no-index', '--json'], { home });
      expect((JSON.parse(s.stdout) as { results: unknown[] }).results).toEqual([]);
    });

    it('Ctrl-C (SIGINT) stops indexing with exit 130 and keeps committed work', async () => {
      const home = temp();
      const dir = temp();
      // Enough files for several committed chunks (batch size 1 -> chunks of 32).
      await Promise.all(Array.from({ length: 320 }, (_, i) => writeSolid(join(dir, `img-${String(i).padStart(3, '0')}.png`), [i % 256, (i * 7) % 256, (i * 13) % 256], 24 + (i % 40), 24)));
      let sent = false;
      const r = await runColour(['index', dir, '--json'], {
        home,
        env: { MEMERY_BATCH_SIZE: '1', MEMERY_THREADS: '1' },
        onSpawn: (child) => {
          child.stderr!.on('data', (c: Buffer) => {
            if (!sent && c.toString().includes('encoding')) {
              sent = true;
              child.kill('SIGINT');
            }
          });
        },
      });
      expect(sent).toBe(true);
      if (r.code === 0) return; // finished before the signal landed: nothing more to check
      expect(r.code).toBe(130);
      expect(r.stderr).toMatch(/interrupted/);
      expect(r.stderr).not.toMatch(STACK_LINE);
      expect(r.stdout).toBe('');
      const again = await runColour(['index', dir, '--json'], { home });
      const s = summaryOf(again.stdout);
      expect(s.found).toBe(320);
      expect(s.new + s.unchanged + s.moved).toBe(320);
    });
  });
});
