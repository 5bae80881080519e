/**
 * @memery/client: memery's protocol and its client.
 *
 *   protocol   constants, routes, event names, error codes, the event-stream parser (no imports;
 *              the GUI loads it as /client.js)
 *   home       memery's home and the files a client reads there (Node)
 *   schemas    the wire's zod schemas and the types derived from them
 *   client     ServerClient / findServer: HTTP over the Unix socket, TCP with the token (Node)
 *   alfred     Alfred Script Filter items for results
 *   cli-output reading the memery CLI's machine output (errors, --progress json, merged results)
 *   map-limit  mapLimit: a function over a list, a few calls at a time
 */
export * from './protocol.js';
export * from './home.js';
export * from './schemas.js';
export * from './client.js';
export * from './alfred.js';
export * from './cli-output.js';
export * from './alfred-schema.js';
export * from './map-limit.js';
