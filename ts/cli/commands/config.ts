/**
 * `memery config [--json] [--schema]`: the configuration in effect and where each value came from
 * (default, config.json, environment, command line); --schema prints config.json's JSON Schema,
 * generated from the zod schema.
 */
import { existsSync } from 'node:fs';
import { memeryOptions, paint, resolveHome, useColor, writeOut, type GlobalOptions } from '../context.js';

export async function runConfig(opts: { json?: boolean; schema?: boolean }, g: GlobalOptions): Promise<void> {
  const { configJsonSchema, configKeys, loadConfigWithSources } = await import('../../config/load.js');
  if (opts.schema) {
    await writeOut(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    return;
  }
  const home = await resolveHome(g);
  const homeSource = g.home ? 'command line' : process.env.MEMERY_HOME ? 'environment' : 'default';
  const { home: _h, ...overrides } = memeryOptions(g);
  const { config, sources, file } = loadConfigWithSources(home, overrides);
  const keys = configKeys();
  if (opts.json) {
    const out = {
      home,
      homeSource,
      file,
      fileExists: existsSync(file),
      config,
      sources,
      env: Object.fromEntries(keys.map((k) => [k.key, k.env])),
    };
    await writeOut(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const { shownValue } = await import('../config-help.js');
  const c = useColor(process.stdout);
  const wk = Math.max(...keys.map((k) => k.key.length));
  const values = keys.map((k) => shownValue(config[k.key]));
  const wv = Math.min(48, Math.max(...values.map((v) => v.length)));
  const lines = [
    `${paint(c, '1', 'home')}  ${home} (${homeSource === 'environment' ? 'MEMERY_HOME' : homeSource === 'command line' ? '--home' : 'default'})`,
    `${paint(c, '1', 'file')}  ${file}${existsSync(file) ? '' : ' (not present: every value is a default, the environment or the command line)'}`,
    '',
    ...keys.map((k, i) => {
      const src = sources[k.key];
      const from = src === 'environment' ? `environment (${k.env})` : src;
      return `${k.key.padEnd(wk)}  ${values[i]!.padEnd(wv)}  ${src === 'default' ? paint(c, '2', from) : from}`;
    }),
  ];
  await writeOut(`${lines.join('\n')}\n`);
}
