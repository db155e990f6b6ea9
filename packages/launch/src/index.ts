export * from './pilot-script.js';
export * from './pilot-env.js';
