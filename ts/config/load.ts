import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { z } from 'zod';
import { defaultHome as protocolHome } from '@memery/client/home';
import { MemeryError } from '../errors.js';
import { ConfigSchema, type Config, type ConfigInput } from './schema.js';

/**
 * MEMERY_HOME, else the platform data folder (e.g. ~/.local/share/memery, ~/Library/Application
 * Support/memery): the rule every client shares, in @memery/client/home.
 */
export function defaultHome(env: NodeJS.ProcessEnv = process.env): string {
  return protocolHome(env);
}

/** The environment variable of a config key: MEMERY_ and the key in SCREAMING_SNAKE_CASE. */
export function envName(key: string): string {
  return `MEMERY_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

export type JsonSchemaProperty = {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  format?: string;
  items?: JsonSchemaProperty;
};

let jsonSchema: { properties: Record<string, JsonSchemaProperty> } & Record<string, unknown> | undefined;

/** config.json's JSON Schema, generated from ConfigSchema (what a file may hold: every key optional). */
export function configJsonSchema(): { properties: Record<string, JsonSchemaProperty> } & Record<string, unknown> {
  jsonSchema ??= {
    ...(z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, JsonSchemaProperty> } & Record<string, unknown>),
    title: 'memery config.json',
  };
  return jsonSchema;
}

/** One config key: its name, environment variable and JSON Schema (type, default, description). */
export interface ConfigKeyInfo {
  key: keyof Config;
  env: string;
  schema: JsonSchemaProperty;
}

/** Every config key, in schema order. */
export function configKeys(): ConfigKeyInfo[] {
  return Object.entries(configJsonSchema().properties).map(([key, schema]) => ({ key: key as keyof Config, env: envName(key), schema }));
}

const TRUE = new Set(['1', 'true', 'yes', 'on']);
const FALSE = new Set(['0', 'false', 'no', 'off']);

/** An environment value as the key's type wants it (a bad value is left for the schema to report). */
function fromEnvValue(schema: JsonSchemaProperty, v: string): unknown {
  switch (schema.type) {
    case 'integer':
    case 'number':
      return v.trim() === '' ? NaN : Number(v);
    case 'boolean': {
      const l = v.trim().toLowerCase();
      return TRUE.has(l) ? true : FALSE.has(l) ? false : v;
    }
    case 'array':
      // A JSON array, or items separated like PATH (":" here, ";" on Windows).
      if (v.trim().startsWith('[')) {
        try {
          return JSON.parse(v) as unknown;
        } catch {
          return v;
        }
      }
      return v.split(delimiter).filter((x) => x !== '');
    default:
      return v;
  }
}

/** Where an effective config value came from. */
export type ConfigSource = 'default' | 'config.json' | 'environment' | 'command line';

function describeIssue(source: string, issue: { path: PropertyKey[]; message: string; code: string; keys?: string[] }): string {
  if (issue.code === 'unrecognized_keys' && issue.keys) return `${source}: unknown key ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  return `${source}: "${issue.path.map(String).join('.')}": ${issue.message}`;
}

/** config.json, then environment, then explicit options (later wins). Errors name the bad key. */
export function loadConfig(home: string, overrides: ConfigInput = {}, env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfigWithSources(home, overrides, env).config;
}

/** loadConfig, and for each key where its value came from. */
export function loadConfigWithSources(
  home: string,
  overrides: ConfigInput = {},
  env: NodeJS.ProcessEnv = process.env,
): { config: Config; sources: Record<keyof Config, ConfigSource>; file: string; fileExists: boolean } {
  const file = join(home, 'config.json');
  let fromFile: Record<string, unknown> = {};
  const fileExists = existsSync(file);
  if (fileExists) {
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
  const keys = configKeys();
  const fromEnv: Record<string, unknown> = {};
  for (const { key, env: name, schema } of keys) {
    const v = env[name];
    if (v !== undefined && v !== '') fromEnv[key] = fromEnvValue(schema, v);
  }
  const envCheck = ConfigSchema.partial().safeParse(fromEnv);
  if (!envCheck.success) {
    const issue = envCheck.error.issues[0]!;
    const envVar = typeof issue.path[0] === 'string' ? envName(issue.path[0]) : 'environment';
    throw new MemeryError('E_CONFIG', `Invalid ${envVar}: ${issue.message}`);
  }
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const r = ConfigSchema.safeParse({ ...fromFile, ...fromEnv, ...defined });
  if (!r.success) throw new MemeryError('E_CONFIG', `Invalid ${describeIssue('option', r.error.issues[0]!)}`);
  const sources = {} as Record<keyof Config, ConfigSource>;
  for (const { key } of keys) {
    sources[key] = key in defined ? 'command line' : key in fromEnv ? 'environment' : key in fromFile ? 'config.json' : 'default';
  }
  return { config: r.data, sources, file, fileExists };
}
