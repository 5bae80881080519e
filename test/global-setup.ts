import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers/shared.js';

/** Generates the small ONNX test models (idempotent; a stamp file makes re-runs instant). */
export default function setup(): void {
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  execFileSync(python, [join(ROOT, 'scripts', 'make-test-models.py')], { stdio: 'inherit' });
}
