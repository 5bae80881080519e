/**
 * `memery serve [--port N] [--host H] [--watch] [--open]`: runs the local HTTP server (ts/server)
 * until Ctrl-C. When a build has no server module, exits 1 with "server not available in this build".
 * It prints the GUI's URL with `?token=` (opening it sets the token cookie); `--open` opens it, and
 * when a server already runs for this home, `--open` opens that one's instead of failing.
 */
import { isMemeryError } from '../../errors.js';
import { memeryOptions, resolveHome, type GlobalOptions } from '../context.js';
import { ExitError } from '../errors.js';

export interface ServeCommandOptions {
  port?: number;
  host?: string;
  allowRemote?: boolean;
  watch?: boolean;
  open?: boolean;
}

type ServerModule = typeof import('../../server/index.js');

async function loadServer(): Promise<ServerModule> {
  try {
    return await import('../../server/index.js');
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err.code === 'ERR_MODULE_NOT_FOUND' && /server[\\/]index\.js/.test(err.message ?? '')) {
      throw new ExitError(1, 'server not available in this build');
    }
    throw e;
  }
}

/** Opens the GUI of the server already running for `home` (its URL plus the token); false when none answers. */
async function openRunning(home: string): Promise<boolean> {
  const { findServer, readServerFile, readToken, TOKEN_PARAM } = await import('@memery/client');
  const { openBrowser } = await import('../../server/open-browser.js');
  const client = await findServer(home);
  if (!client) return false;
  client.close();
  const info = readServerFile(home);
  const token = readToken(home);
  if (!info?.url || !token) return false;
  const url = new URL('/', info.url);
  url.searchParams.set(TOKEN_PARAM, token);
  process.stderr.write(`memery serve: a server (pid ${info.pid}) already runs for ${home}; opening ${url.href}\n`);
  openBrowser(url.href);
  return true;
}

export async function runServe(o: ServeCommandOptions, g: GlobalOptions): Promise<void> {
  const { startServer } = await loadServer();
  const home = await resolveHome(g);
  const { home: _h, ...memery } = memeryOptions(g);
  let server: Awaited<ReturnType<ServerModule['startServer']>>;
  try {
    server = await startServer({
      home,
      memery,
      ...(o.port !== undefined ? { port: o.port } : {}),
      ...(o.host !== undefined ? { host: o.host } : {}),
      ...(o.allowRemote ? { allowRemote: true } : {}),
      ...(o.watch !== undefined ? { watch: o.watch } : {}),
      ...(o.open ? { open: true } : {}),
    });
  } catch (err) {
    if (o.open && isMemeryError(err, 'E_LOCKED') && (await openRunning(home))) return;
    throw err;
  }
  process.stderr.write(`memery serve: listening on ${server.url}${server.socketPath ? ` and ${server.socketPath}` : ''} (home ${server.home}); Ctrl-C to stop\n`);
  await new Promise<void>((resolveStop) => {
    const stop = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.stderr.write(`memery serve: ${sig}, shutting down\n`);
      server.close().then(resolveStop, (err: unknown) => {
        process.stderr.write(`memery serve: ${(err as Error).message}\n`);
        resolveStop();
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
