export { ConfigSchema } from './schema.js';
export type { Config, ConfigInput } from './schema.js';
export { loadConfig, defaultHome } from './load.js';
