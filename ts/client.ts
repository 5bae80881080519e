/**
 * `memery/client`: the protocol and the client of `memery serve` without the library (no native
 * addon, no SQLite): @memery/client, re-exported by the main package.
 */
export * from '@memery/client';
