/** `memery models [list|download NAME|verify [NAME]|remove NAME]`. */
import { resolveHome, useColor, paint, withInterrupt, writeOut, type GlobalOptions } from '../context.js';
import { ExitError } from '../errors.js';

export async function runModelsList(opts: { json?: boolean }, g: GlobalOptions): Promise<void> {
  const home = await resolveHome(g);
  const [{ listModelEntries, DEFAULT_MODEL_NAME }, { listInstalled }, { formatBytes }, { loadConfig }] = await Promise.all([
    import('../../models/registry.js'),
    import('../../models/installed.js'),
    import('../../models/progress.js'),
    import('../../config/load.js'),
  ]);
  const installed = new Map((await listInstalled(home)).map((m) => [m.name, m]));
  let current: string | undefined;
  try {
    const c = loadConfig(home, g.model ? { model: g.model } : {});
    current = c.modelDir ? undefined : c.model;
  } catch {
    current = g.model ?? DEFAULT_MODEL_NAME;
  }
  const rows = listModelEntries().map((e) => {
    const i = installed.get(e.name);
    const state = !i ? 'not installed' : i.downloading ? 'downloading' : i.complete ? 'installed' : 'incomplete';
    return {
      name: e.name,
      repo: e.repo,
      layout: e.layout,
      state,
      where: i?.where ?? null,
      bytes: i?.bytes ?? 0,
      downloadBytes: registryBytes(e),
      dir: i?.dir ?? null,
      default: e.name === DEFAULT_MODEL_NAME,
      current: e.name === current,
      description: e.description,
    };
  });
  // Folders under <home>/models that are not registry models (copied in by hand).
  for (const [name, i] of installed) {
    if (rows.some((r) => r.name === name)) continue;
    rows.push({ name, repo: '', layout: 'hf', state: i.complete ? 'installed' : 'local folder', where: i.where, bytes: i.bytes, downloadBytes: null, dir: i.dir, default: false, current: false, description: 'not in the registry' });
  }
  if (opts.json) {
    await writeOut(`${JSON.stringify({ home, models: rows }, null, 2)}\n`);
    return;
  }
  const color = useColor(process.stdout);
  const lines = rows.map((r) => {
    const mark = r.current ? '*' : ' ';
    // On disk when installed; else the download size when the registry records it.
    const size = r.bytes
      ? `  ${formatBytes(r.bytes)} on disk`
      : r.downloadBytes !== null
        ? `  ${formatBytes(r.downloadBytes)} to download`
        : r.state === 'not installed'
          ? '  (size known once downloaded)'
          : '';
    return `${mark} ${paint(color, '1', r.name)}  ${r.state}${size}${r.default ? '  (default)' : ''}\n    ${r.description}`;
  });
  await writeOut(`${lines.join('\n')}\n`);
}

/** The registry's download size of a model: the sum of its files' sizes when every one is recorded. */
function registryBytes(e: { files: ReadonlyArray<{ size?: number | undefined; optional?: boolean | undefined }> }): number | null {
  const required = e.files.filter((f) => !f.optional);
  return required.every((f) => f.size !== undefined) ? required.reduce((n, f) => n + f.size!, 0) : null;
}

/**
 * `models download [NAME] [--dry-run] [--json]`: NAME defaults to the model in use (--model,
 * MEMERY_MODEL or config.json's model; else the default model).
 */
export async function runModelsDownload(name: string | undefined, opts: { dryRun?: boolean; json?: boolean }, g: GlobalOptions): Promise<void> {
  const home = await resolveHome(g);
  const [{ getModelEntry }, { downloadModel, resolveEndpoint }, { hubCacheDir, isOffline, repoCacheDir }, { findInstalled, legacyModelDir }, { ProgressReporter, downloadProgress, formatBytes }, { loadConfig }] =
    await Promise.all([
      import('../../models/registry.js'),
      import('../../models/download.js'),
      import('../../models/hf-cache.js'),
      import('../../models/installed.js'),
      import('../../models/progress.js'),
      import('../../config/load.js'),
    ]);
  const config = loadConfig(home, g.model ? { model: g.model } : {});
  const entry = getModelEntry(name ?? config.model);
  if (opts.dryRun) {
    const installed = await findInstalled(home, entry);
    const plan = {
      name: entry.name,
      repo: entry.repo,
      revision: entry.revision,
      endpoint: resolveEndpoint(config.hfEndpoint),
      offline: isOffline(),
      /** The repository's folder in the Hugging Face cache; the model is in its snapshots/<commit>. */
      dir: repoCacheDir(hubCacheDir(), entry.repo),
      installed: installed ? { where: installed.where, dir: installed.dir } : null,
      files: entry.files.map((f) => ({ path: f.path, ...(f.size !== undefined ? { bytes: f.size } : {}), ...(f.optional ? { optional: true } : {}) })),
      bytes: registryBytes(entry),
    };
    if (opts.json) await writeOut(`${JSON.stringify(plan, null, 2)}\n`);
    else {
      const state = installed ? `; installed in ${installed.dir}${installed.where === 'legacy' ? ' (moved into the cache, checked, by a download)' : ''}` : '';
      await writeOut(
        `would download ${plan.name} (${plan.repo}@${plan.revision}${plan.bytes !== null ? `, ${formatBytes(plan.bytes)}` : ''}) from ${plan.endpoint} into ${plan.dir}${state}:\n` +
          plan.files.map((f) => `  ${f.path}${f.optional ? ' (optional)' : ''}\n`).join(''),
      );
    }
    return;
  }
  const reporter = new ProgressReporter({ stream: process.stderr });
  const r = await withInterrupt((signal) =>
    downloadModel(entry, { endpoint: config.hfEndpoint, legacyDir: legacyModelDir(home, entry.name), signal, onProgress: downloadProgress(reporter) }),
  );
  const moved = r.migratedFrom ? `; moved from ${r.migratedFrom}` : '';
  process.stderr.write(`${entry.name}: ready in ${r.dir} (${formatBytes(r.bytesTransferred)} downloaded${moved})\n`);
  if (opts.json) await writeOut(`${JSON.stringify({ name: entry.name, dir: r.dir, commit: r.commit, bytesTransferred: r.bytesTransferred }, null, 2)}\n`);
}

export async function runModelsVerify(name: string | undefined, opts: { json?: boolean }, g: GlobalOptions): Promise<void> {
  const home = await resolveHome(g);
  const { verifyModel, listInstalled } = await import('../../models/installed.js');
  let names: string[];
  if (name) names = [name];
  else {
    names = (await listInstalled(home)).map((m) => m.name);
    if (names.length === 0) process.stderr.write(`No models installed (Hugging Face cache or ${home}).\n`);
  }
  const results = [];
  let bad = 0;
  for (const n of names) {
    try {
      const r = await verifyModel(home, n);
      if (!r.ok) bad++;
      results.push({ name: n, dir: r.dir, where: r.where, ok: r.ok, problems: r.problems });
    } catch (e) {
      if (name) throw e; // the one model asked for: its error (E_NOT_FOUND, ...)
      bad++;
      results.push({ name: n, dir: null, where: null, ok: false, problems: [(e as Error).message] });
    }
  }
  if (opts.json) await writeOut(`${JSON.stringify(results, null, 2)}\n`);
  else {
    await writeOut(
      results.map((r) => `${r.name}: ${r.ok ? 'ok' : 'FAILED'}${r.problems.map((p) => `\n  ${p}`).join('')}\n`).join(''),
    );
  }
  if (bad > 0) {
    throw new ExitError(1, `${bad} model${bad === 1 ? '' : 's'} failed verification; fetch again with \`memery models remove NAME\` then \`memery models download NAME\``);
  }
}

export async function runModelsRemove(name: string, _opts: unknown, g: GlobalOptions): Promise<void> {
  const home = await resolveHome(g);
  const { removeModel } = await import('../../models/installed.js');
  for (const dir of await removeModel(home, name)) process.stderr.write(`Removed ${name} from ${dir}\n`);
}
