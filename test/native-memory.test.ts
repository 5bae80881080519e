// Repeated batch encoding must not grow the process: 20 encodeFiles passes over the shared corpus
// (96 files, three of which fail) with RSS measured after the first and after the last pass.
import { readdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageEncoder } from '../ts/native/index.js';
import { HAS_SHARED, SHARED_SKIP_REASON, shared, testModel } from './helpers/shared.js';

/** Under scripts/test-asan.sh freed memory sits in ASan's quarantine: RSS says nothing there, and
 * a few passes are enough for ASan to see the code paths. */
const ASAN = process.env.MEMERY_ASAN === '1';
const PASSES = ASAN ? 5 : 20;
const LIMIT_MB = 50;

/** global.gc without --expose-gc on the command line (the flag is honoured by new contexts). */
function getGc(): (() => void) | undefined {
  if (typeof globalThis.gc === 'function') return globalThis.gc;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

describe.skipIf(!HAS_SHARED)(`native memory ${HAS_SHARED ? '' : SHARED_SKIP_REASON}`, () => {
  let encoder: ImageEncoder;
  let files: string[];
  beforeAll(async () => {
    files = ['memes', 'photos'].flatMap((d) => readdirSync(shared('corpus', d)).sort().map((f) => shared('corpus', d, f)));
    encoder = await ImageEncoder.load(testModel('colour-hf', 'onnx', 'vision_model.onnx'));
  });
  afterAll(() => encoder?.close());

  it(`RSS grows less than ${LIMIT_MB} MB over ${PASSES} encodeFiles passes${ASAN ? ' (not checked under ASan)' : ''}`, async () => {
    const gc = getGc();
    const settle = async () => {
      gc?.();
      await new Promise((r) => setTimeout(r, 20));
      gc?.();
    };
    const rss: number[] = [];
    let first: Float32Array | undefined;
    const t0 = performance.now();
    for (let pass = 0; pass < PASSES; pass++) {
      const r = await encoder.encodeFiles(files, { batchSize: 16 });
      // Same answer every pass, and the known-bad files fail every time.
      expect(r.errors.map((e) => e.path.split('/').pop())).toEqual(['corrupted-file.jpeg', 'multipage_rgb.tif', 'truncated.jpg']);
      if (first) expect(r.embeddings).toEqual(first);
      else first = r.embeddings;
      await settle();
      rss.push(process.memoryUsage().rss / 2 ** 20);
    }
    const secs = (performance.now() - t0) / 1000;
    const growth = rss[rss.length - 1]! - rss[0]!;
    const peak = Math.max(...rss) - rss[0]!;
    console.log(
      `memory: ${files.length} files x ${PASSES} passes in ${secs.toFixed(1)} s (gc ${gc ? 'on' : 'unavailable'}); ` +
        `RSS after pass 1 ${rss[0]!.toFixed(1)} MiB, after pass ${PASSES} ${rss[rss.length - 1]!.toFixed(1)} MiB, ` +
        `growth ${growth.toFixed(1)} MiB (peak +${peak.toFixed(1)}); per pass: ${rss.map((v) => v.toFixed(0)).join(' ')}`,
    );
    if (!ASAN) expect(growth).toBeLessThan(LIMIT_MB);
  });
});
