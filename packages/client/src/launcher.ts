/**
 * What a launcher needs at run time, without zod (its types only): the protocol, the home rules,
 * the client and the Alfred items. The Alfred workflow bundles this entry (a cold start per
 * keystroke must not load a schema library); the schemas stay reachable through the client's
 * `validate` option, loaded on demand.
 */
export * from './protocol.js';
export * from './home.js';
export * from './client.js';
export * from './alfred.js';
export * from './cli-output.js';
export * from './map-limit.js';
export type * from './schemas.js';
