export * from './registry.js';
export * from './layout.js';
export * from './download.js';
export * from './progress.js';
