import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `../shared` beside the checkout (read-only test data; never copied into the project). */
export const SHARED = process.env.MEMERY_SHARED ?? resolve(ROOT, '..', 'shared');
export const HAS_SHARED = existsSync(join(SHARED, 'README.md'));
export const SHARED_SKIP_REASON = `../shared not found at ${SHARED}: tests that read the shared corpus are skipped`;
if (!HAS_SHARED) console.warn(SHARED_SKIP_REASON);

export const shared = (...parts: string[]): string => join(SHARED, ...parts);

/** Generated test models (scripts/make-test-models.py writes them here; gitignored). */
export const TEST_MODELS = join(ROOT, '.cache', 'test-models');
export const testModel = (...parts: string[]): string => join(TEST_MODELS, ...parts);
