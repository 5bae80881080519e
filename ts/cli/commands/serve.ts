/**
 * `memery serve [--port N] [--host H] [--watch] [--open]`: runs the local HTTP server (ts/server)
 * until Ctrl-C. When a build has no server module, exits 1 with "server not available in this build".
 */
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

export async function runServe(o: ServeCommandOptions, g: GlobalOptions): Promise<void> {
  const { startServer } = await loadServer();
  const home = await resolveHome(g);
  const { home: _h, ...memery } = memeryOptions(g);
  const server = await startServer({
    home,
    memery,
    ...(o.port !== undefined ? { port: o.port } : {}),
    ...(o.host !== undefined ? { host: o.host } : {}),
    ...(o.allowRemote ? { allowRemote: true } : {}),
    ...(o.watch !== undefined ? { watch: o.watch } : {}),
    ...(o.open ? { open: true } : {}),
  });
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
