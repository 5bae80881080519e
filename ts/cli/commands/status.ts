/** `memery status [--json]`: catalog, folders, counts, model, the models the catalog holds, index health, server. */
import type { CatalogModel } from '../../api/schemas.js';
import { openMemery, paint, useColor, writeOut, type GlobalOptions } from '../context.js';
import { formatBytes } from '../../models/progress.js';
import { findServer } from '../server-link.js';

export async function runStatus(opts: { json?: boolean }, g: GlobalOptions): Promise<void> {
  const m = await openMemery(g);
  let status;
  try {
    status = await m.status();
  } finally {
    await m.close();
  }
  const server = await findServer(status.home);
  server?.close();
  const out = { ...status, server: { running: server !== undefined, url: server?.url ?? null, pid: server?.pid ?? null } };
  if (opts.json) {
    await writeOut(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const c = useColor(process.stdout);
  const b = (s: string) => paint(c, '1', s);
  const lines = [
    `${b('home')}       ${out.home}`,
    `${b('catalog')}    ${out.catalog} (integrity: ${out.integrity})`,
    `${b('model')}      ${out.model.name}${out.model.layout ? ` (${out.model.layout})` : ''}${out.model.dir ? ` ${out.model.dir}` : ''}${out.model.id ? '' : ' (not available)'}`,
    `${b('index')}      ${out.index.type}, ${out.model.id ? `${out.index.vectors} vectors, ${out.index.health}` : 'no vectors: the model in use is not available'}`,
    ...modelLines(out.models ?? [], b),
    `${b('files')}      ${out.counts.files} indexed, ${out.counts.failed} failed, ${out.counts.embeddings} embeddings, ${out.counts.texts ?? 0} with text`,
    ...(out.thumbnails
      ? [`${b('thumbnails')} ${out.thumbnails.count} stored, ${formatBytes(out.thumbnails.bytes)} of ${formatBytes(out.thumbnails.budget)} (thumbnailBudget) in ${out.thumbnails.dir}`]
      : []),
    `${b('server')}     ${out.server.running ? `running (${out.server.url}, pid ${out.server.pid})` : 'not running'}`,
    `${b('folders')}    ${out.folders.length === 0 ? 'none (run `memery index FOLDER`)' : out.folders.length}`,
    ...out.folders.map(
      (f) => `  ${f.path}  ${f.files} files${f.failed ? `, ${f.failed} failed` : ''}${f.indexedAt ? `, indexed ${new Date(f.indexedAt).toISOString()}` : ', never indexed'}`,
    ),
  ];
  await writeOut(`${lines.join('\n')}\n`);
}

/**
 * The models the catalog holds embeddings of, one line each (id, count, name and folder when known),
 * the one in use marked with `*`; a model not in use says how to search with it.
 */
function modelLines(models: CatalogModel[], b: (s: string) => string): string[] {
  const held = models.filter((m) => m.embeddings > 0);
  const inUseHeld = held.some((m) => m.inUse);
  const head =
    held.length === 0
      ? 'none in the catalog yet'
      : `${held.length} in the catalog${inUseHeld ? '' : ', none of them the model in use'}`;
  const how = (m: CatalogModel): string =>
    m.inUse ? '  (in use)' : m.name ? `  (search them with --model ${m.name})` : '  (another model folder: search them with --model-dir FOLDER)';
  return [
    `${b('models')}     ${head}`,
    ...models.map((m) => `  ${m.inUse ? '*' : ' '} ${m.id}  ${m.embeddings} embeddings${m.name ? `  ${m.name}` : ''}${m.dir ? ` ${m.dir}` : ''}${how(m)}`),
  ];
}
