export * from './registry.js';
export * from './layout.js';
export * from './variant.js';
export * from './hf-cache.js';
export * from './download.js';
export * from './installed.js';
export * from './progress.js';
