import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultHome as protocolHome } from '@memery/client/home';
import { ENV_PORT } from '@memery/client/protocol';
import { MemeryError } from '../errors.js';
import { ConfigSchema, type Config, type ConfigInput } from './schema.js';

/**
 * MEMERY_HOME, else the platform data folder (e.g. ~/.local/share/memery, ~/Library/Application
 * Support/memery): the rule every client shares, in @memery/client/home.
 */
export function defaultHome(env: NodeJS.ProcessEnv = process.env): string {
  return protocolHome(env);
}

const ENV_KEYS: Array<[string, keyof ConfigInput, (v: string) => unknown]> = [
  ['MEMERY_MODEL', 'model', (v) => v],
  ['MEMERY_MODEL_DIR', 'modelDir', (v) => v],
  ['MEMERY_PROVIDER', 'provider', (v) => v],
  ['MEMERY_THREADS', 'threads', (v) => Number(v)],
  ['MEMERY_BATCH_SIZE', 'batchSize', (v) => Number(v)],
  ['MEMERY_SHRINK_MARGIN', 'shrinkMargin', (v) => Number(v)],
  ['MEMERY_INDEX_TYPE', 'indexType', (v) => v],
  [ENV_PORT, 'port', (v) => Number(v)],
  ['MEMERY_HF_ENDPOINT', 'hfEndpoint', (v) => v],
];

function describeIssue(source: string, issue: { path: PropertyKey[]; message: string; code: string; keys?: string[] }): string {
  if (issue.code === 'unrecognized_keys' && issue.keys) return `${source}: unknown key ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  return `${source}: "${issue.path.map(String).join('.')}": ${issue.message}`;
}

/** config.json, then environment, then explicit options (later wins). Errors name the bad key. */
export function loadConfig(home: string, overrides: ConfigInput = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const file = join(home, 'config.json');
  let fromFile: Record<string, unknown> = {};
  if (existsSync(file)) {
    try {
      fromFile = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new MemeryError('E_CONFIG', `Cannot parse ${file}: ${(err as Error).message}`, { path: file, hint: 'Fix or delete the file.' });
    }
    const r = ConfigSchema.safeParse(fromFile);
    if (!r.success) {
      throw new MemeryError('E_CONFIG', `Invalid ${describeIssue(file, r.error.issues[0]!)}`, { path: file });
    }
  }
  const fromEnv: Record<string, unknown> = {};
  for (const [name, key, conv] of ENV_KEYS) {
    const v = env[name];
    if (v !== undefined && v !== '') fromEnv[key] = conv(v);
  }
  const envCheck = ConfigSchema.partial().safeParse(fromEnv);
  if (!envCheck.success) {
    const issue = envCheck.error.issues[0]!;
    const envName = ENV_KEYS.find(([, k]) => k === issue.path[0])?.[0] ?? 'environment';
    throw new MemeryError('E_CONFIG', `Invalid ${envName}: ${issue.message}`);
  }
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const r = ConfigSchema.safeParse({ ...fromFile, ...fromEnv, ...defined });
  if (!r.success) throw new MemeryError('E_CONFIG', `Invalid ${describeIssue('option', r.error.issues[0]!)}`);
  return r.data;
}
