/**
 * The configuration part of `memery --help` and of `memery config`: generated from the zod config
 * schema (ts/config/schema.ts), so the list of keys and environment variables cannot drift from it.
 */
import { ENV_ERROR_FORMAT, ENV_HOME } from '@memery/client/protocol';
import { configKeys, type JsonSchemaProperty } from '../config/load.js';

/** Environment variables that are not config keys. */
export const OTHER_ENV: ReadonlyArray<[string, string]> = [
  [ENV_HOME, 'the memery home: catalog, thumbnails, config.json (default: the platform data folder)'],
  [ENV_ERROR_FORMAT, '"json": errors as one JSON line on stderr'],
  ['HF_ENDPOINT', 'Hugging Face endpoint, when MEMERY_HF_ENDPOINT is not set'],
  ['HF_HOME', 'Hugging Face home: models are kept in its hub/ cache (default ~/.cache/huggingface)'],
  ['HF_HUB_CACHE', 'the Hugging Face model cache itself (default $HF_HOME/hub), shared with Python tools'],
  ['HF_HUB_OFFLINE', '1: never connect; use only models already in the cache'],
  ['MEMERY_NATIVE_BINDING', "path of the native addon (memery.node) to load"],
  ['NO_COLOR', 'no colour (https://no-color.org)'],
  ['FORCE_COLOR', 'colour even in a pipe (0: never); --color wins over both'],
];

/** A key's type in a few characters: "integer 0..256", "cpu|cuda|auto", "boolean", "list". */
export function typeOf(s: JsonSchemaProperty): string {
  if (s.enum) return s.enum.join('|');
  if (s.type === 'array') return 'list';
  const big = (n: number | undefined) => n === undefined || Math.abs(n) > 1e15;
  const range = !big(s.minimum) || !big(s.maximum) ? ` ${big(s.minimum) ? '' : s.minimum}..${big(s.maximum) ? '' : s.maximum}` : '';
  return `${s.type === 'string' && s.format === 'uri' ? 'url' : (s.type ?? 'value')}${range}`;
}

export function shownValue(v: unknown): string {
  if (v === undefined) return '(unset)';
  if (Array.isArray(v)) return v.length ? v.join(', ') : '(none)';
  return String(v);
}

/** The "Configuration" section of `memery --help`. */
export function configHelp(): string {
  const keys = configKeys();
  const wk = Math.max(...keys.map((k) => k.key.length));
  const we = Math.max(...keys.map((k) => k.env.length));
  const lines = keys.map(
    (k) =>
      `  ${k.key.padEnd(wk)}  ${k.env.padEnd(we)}  ${typeOf(k.schema)}${'default' in k.schema ? `, default ${shownValue(k.schema.default)}` : ''}: ${k.schema.description ?? ''}`,
  );
  const wo = Math.max(...OTHER_ENV.map(([n]) => n.length));
  return (
    `Configuration: keys of <home>/config.json, each also set by its environment variable\n` +
    `(a list: items separated like PATH, or a JSON array). Later wins: default, config.json,\n` +
    `environment, command line. \`memery config\` shows the values in effect and where each came from;\n` +
    `\`memery config --schema\` prints config.json's JSON Schema.\n${lines.join('\n')}\n` +
    `\nOther environment:\n${OTHER_ENV.map(([n, d]) => `  ${n.padEnd(wo)}  ${d}`).join('\n')}\n`
  );
}
