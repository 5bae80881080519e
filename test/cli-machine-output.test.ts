/**
 * The CLI's machine output for launchers (ts/cli/commands/index.ts --progress json, ts/cli/main.ts
 * JSON errors): read with @memery/client's schemas, never as human text.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliError, readProgressLine } from '@memery/client';
import { ErrorBodySchema, ProgressLineSchema } from '@memery/client/schemas';
import { CLI_BUILT, runColour } from './helpers/cli.js';
import { tempDir, writeColourSet } from './helpers/images.js';

describe.skipIf(!CLI_BUILT)('memery CLI machine output', () => {
  let home: string;
  let dir: string;
  beforeAll(async () => {
    home = tempDir('memery-machine-home-');
    dir = tempDir('memery-machine-imgs-');
    await writeColourSet(dir);
  });
  afterAll(() => {
    rmSync(home, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('`index --progress json`: one ProgressLine a line on stderr, ending with the summary', async () => {
    const r = await runColour(['index', '--progress', 'json', dir], { home });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n').filter(Boolean);
    const parsed = lines.map((l) => ProgressLineSchema.parse(JSON.parse(l)));
    expect(parsed.filter((l) => l.type === 'progress').length).toBeGreaterThan(0);
    const last = parsed[parsed.length - 1]!;
    expect(last).toMatchObject({ type: 'summary', folder: dir, found: 8, new: 8 });
    expect(readProgressLine(lines[lines.length - 1]!)).toEqual({ summary: expect.objectContaining({ found: 8 }) });
  });

  it('errors are one JSON error line with --json (and with MEMERY_ERROR_FORMAT=json), with the error code', async () => {
    const missing = await runColour(['search', join(dir, 'gone'), 'red', '--json'], { home });
    expect(missing.code).toBe(1);
    const body = ErrorBodySchema.parse(JSON.parse(missing.stderr.trim().split('\n').pop()!));
    expect(body.error.code).toBe('E_NOT_FOUND');
    expect(cliError(missing.stderr).code).toBe('E_NOT_FOUND');
    const usage = await runColour(['search', dir, '--limit', 'zero'], { home, env: { MEMERY_ERROR_FORMAT: 'json' } });
    expect(usage.code).toBe(2);
    expect(cliError(usage.stderr)).toMatchObject({ code: 'E_USAGE' });
    // Without either, the human text as before.
    const human = await runColour(['search', join(dir, 'gone'), 'red'], { home });
    expect(human.stderr).toMatch(/^memery: error: /);
  });
});
