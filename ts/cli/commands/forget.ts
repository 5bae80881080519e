/** `memery forget FOLDER`: removes a folder and its files from the catalog (not from disk). */
import { resolve } from 'node:path';
import { openMemery, type GlobalOptions } from '../context.js';

export async function runForget(folder: string, _opts: unknown, g: GlobalOptions): Promise<void> {
  const m = await openMemery(g);
  try {
    const n = await m.forget(folder);
    process.stderr.write(`Forgot ${resolve(folder)} (${n} file${n === 1 ? '' : 's'} removed from the catalog)\n`);
  } finally {
    await m.close();
  }
}
