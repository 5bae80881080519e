/** `memery models [list|download NAME|verify [NAME]|remove NAME]`. */
import { resolveHome, useColor, paint, withInterrupt, writeOut, type GlobalOptions } from '../context.js';
import { ExitError } from '../errors.js';

export async function runModelsList(opts: { json?: boolean }, g: GlobalOptions): Promise<void> {
  const home = await resolveHome(g);
  const [{ listModelEntries, DEFAULT_MODEL_NAME }, { listInstalled }, { formatBytes }, { loadConfig }] = await Promise.all([
    import('../../models/registry.js'),
    import('../../models/download.js'),
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
    rows.push({ name, repo: '', layout: 'hf', state: i.complete ? 'installed' : 'local folder', bytes: i.bytes, downloadBytes: null, dir: i.dir, default: false, current: false, description: 'not in the registry' });
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
  const [{ getModelEntry }, { downloadModel, modelDir, resolveEndpoint }, { ProgressReporter, downloadProgress, formatBytes }, { loadConfig }] = await Promise.all([
    import('../../models/registry.js'),
    import('../../models/download.js'),
    import('../../models/progress.js'),
    import('../../config/load.js'),
  ]);
  const config = loadConfig(home, g.model ? { model: g.model } : {});
  const entry = getModelEntry(name ?? config.model);
  if (opts.dryRun) {
    const plan = {
      name: entry.name,
      repo: entry.repo,
      revision: entry.revision,
      endpoint: resolveEndpoint(config.hfEndpoint),
      dir: modelDir(home, entry.name),
      files: entry.files.map((f) => ({ path: f.path, ...(f.size !== undefined ? { bytes: f.size } : {}), ...(f.optional ? { optional: true } : {}) })),
      bytes: registryBytes(entry),
    };
    if (opts.json) await writeOut(`${JSON.stringify(plan, null, 2)}\n`);
    else {
      await writeOut(
        `would download ${plan.name} (${plan.repo}@${plan.revision}${plan.bytes !== null ? `, ${formatBytes(plan.bytes)}` : ''}) from ${plan.endpoint} into ${plan.dir}:\n` +
          plan.files.map((f) => `  ${f.path}${f.optional ? ' (optional)' : ''}\n`).join(''),
      );
    }
    return;
  }
  const reporter = new ProgressReporter({ stream: process.stderr });
  const r = await withInterrupt((signal) =>
    downloadModel(entry, { destDir: modelDir(home, entry.name), endpoint: config.hfEndpoint, signal, onProgress: downloadProgress(reporter) }),
  );
  process.stderr.write(`${entry.name}: ready in ${r.dir} (${formatBytes(r.bytesTransferred)} downloaded)\n`);
  if (opts.json) await writeOut(`${JSON.stringify({ name: entry.name, dir: r.dir, bytesTransferred: r.bytesTransferred }, null, 2)}\n`);
}

export async function runModelsVerify(name: string | undefined, opts: { json?: boolean }, g: GlobalOptions): Promise<void> {
  const home = await resolveHome(g);
  const { verifyModel, modelDir, listInstalled } = await import('../../models/download.js');
  const { MemeryError } = await import('../../errors.js');
  let dirs: Array<{ name: string; dir: string }>;
  if (name) {
    const dir = modelDir(home, name);
    const installed = await listInstalled(home);
    if (!installed.some((m) => m.name === name)) {
      throw new MemeryError('E_NOT_FOUND', `Expected an installed model named "${name}" but found none in ${dir}`, {
        path: dir,
        hint: installed.length ? `Installed: ${installed.map((m) => m.name).join(', ')}` : `Run \`memery models download ${name}\`.`,
      });
    }
    dirs = [{ name, dir }];
  } else {
    dirs = (await listInstalled(home)).map((m) => ({ name: m.name, dir: m.dir }));
    if (dirs.length === 0) process.stderr.write(`No models installed under ${home}.\n`);
  }
  const results = [];
  let bad = 0;
  for (const d of dirs) {
    try {
      const r = await verifyModel(d.dir);
      if (!r.ok) bad++;
      results.push({ name: d.name, dir: d.dir, ok: r.ok, problems: r.problems });
    } catch (e) {
      bad++;
      results.push({ name: d.name, dir: d.dir, ok: false, problems: [(e as Error).message] });
    }
  }
  if (opts.json) await writeOut(`${JSON.stringify(results, null, 2)}\n`);
  else {
    await writeOut(
      results.map((r) => `${r.name}: ${r.ok ? 'ok' : 'FAILED'}${r.problems.map((p) => `\n  ${p}`).join('')}\n`).join(''),
    );
  }
  if (bad > 0) throw new ExitError(1, `${bad} model${bad === 1 ? '' : 's'} failed verification; download again with \`memery models download NAME\``);
}

export async function runModelsRemove(name: string, _opts: unknown, g: GlobalOptions): Promise<void> {
  const home = await resolveHome(g);
  const { removeModel } = await import('../../models/download.js');
  const dir = await removeModel(home, name);
  process.stderr.write(`Removed ${dir}\n`);
}
