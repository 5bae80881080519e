/**
 * `memery/client` (ts/client.ts, the main package's export of @memery/client): importing it loads
 * no native code (no .node addon: neither memery's nor better-sqlite3's).
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/shared.js';

describe('memery/client', () => {
  it('imports without loading any native addon, and offers the client and the protocol', () => {
    const script = `
const client = await import('memery/client');
const shared = process.report.getReport().sharedObjects;
console.log(JSON.stringify({
  url: import.meta.resolve('memery/client'),
  addons: shared.filter((f) => f.endsWith('.node')),
  sqlite: shared.filter((f) => /sqlite|memery_native|onnx/i.test(f)),
  exports: ['ServerClient', 'findServer', 'ROUTES', 'EVENTS', 'ERROR_CODES', 'sseParser', 'defaultHome', 'SearchResultSchema'].filter((k) => k in client),
}));`;
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' })) as {
      url: string;
      addons: string[];
      sqlite: string[];
      exports: string[];
    };
    expect(out.url).toMatch(/\/dist\/ts\/client\.js$/);
    expect(out.addons).toEqual([]);
    expect(out.sqlite).toEqual([]);
    expect(out.exports).toEqual(['ServerClient', 'findServer', 'ROUTES', 'EVENTS', 'ERROR_CODES', 'sseParser', 'defaultHome', 'SearchResultSchema']);
  });

  it('the check sees an addon when one is loaded (the main entry loads the native one lazily, better-sqlite3 on open)', () => {
    const script = `
const { createRequire } = await import('node:module');
createRequire(${JSON.stringify(`${ROOT}/package.json`)})('better-sqlite3')(':memory:').close();
console.log(JSON.stringify(process.report.getReport().sharedObjects.filter((f) => f.endsWith('.node')).length));`;
    expect(Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' }))).toBeGreaterThan(0);
  });
});
