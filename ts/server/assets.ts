// The GUI's static files and the package version, found from this file's location.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROUTES } from '@memery/client/protocol';

function findUp(start: string, rel: string): string | undefined {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, rel))) return join(dir, rel);
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

const here = dirname(fileURLToPath(import.meta.url));

export function packageVersion(): string {
  const p = findUp(here, 'package.json');
  try {
    return p ? String((JSON.parse(readFileSync(p, 'utf8')) as { version?: string }).version ?? '0.0.0') : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** The compiled protocol module (@memery/client/protocol), served to the GUI as /client.js. */
function clientModule(): string | undefined {
  try {
    return fileURLToPath(import.meta.resolve('@memery/client/protocol'));
  } catch {
    return undefined;
  }
}

/** The GUI's static files (gui/ at the package root) and the protocol module it imports, read once. */
export function loadAssets(): Map<string, Asset> {
  const dir = findUp(here, join('gui', 'index.html'));
  const out = new Map<string, Asset>();
  if (!dir) return out;
  const root = dirname(dir);
  const files: Array<[string, string | undefined, string]> = [
    ['/', join(root, 'index.html'), 'text/html; charset=utf-8'],
    ['/app.js', join(root, 'app.js'), 'text/javascript; charset=utf-8'],
    ['/app.css', join(root, 'app.css'), 'text/css; charset=utf-8'],
    ['/favicon.svg', join(root, 'favicon.svg'), 'image/svg+xml'],
    [ROUTES.clientModule, clientModule(), 'text/javascript; charset=utf-8'],
  ];
  for (const [route, file, type] of files) {
    if (file === undefined) continue;
    try {
      const body = readFileSync(file);
      out.set(route, { body, type, etag: `"${body.length.toString(36)}-${randomBytes(4).toString('hex')}"` });
    } catch {
      /* optional asset */
    }
  }
  return out;
}

