export * from './errors.js';
export * from './job-state.js';
export * from './retry-after.js';
export * from './auth.js';
export * from './client.js';
export * from './config.js';
export * from './pilot-state.js';
