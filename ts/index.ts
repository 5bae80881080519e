// memery: natural-language search over local image folders. The library is the single entry for
// the CLI, the server and the launchers.
export { Memery, search } from './api/memery.js';
export type { OpenExtras } from './api/memery.js';
export * from './api/schemas.js';
export { MemeryError, isMemeryError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { ConfigSchema, loadConfig, defaultHome } from './config/index.js';
export type { Config, ConfigInput } from './config/index.js';
export { ClipTokenizer } from './tokenizer/index.js';
export * as native from './native/index.js';
export * as models from './models/index.js';
export { startServer } from './server/index.js';
export { findServer, ServerClient } from './server/client.js';
export { DEFAULT_PORT } from '@memery/client/protocol';
export { toHTML, resultsToHTML } from './notebook/html.js';
