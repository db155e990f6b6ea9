export * from './options.js';
export { Worker, summaryLine, type WorkerContext, type WorkerSummary } from './worker.js';
export { WORKER_NODE_FLAGS } from './node-flags.js';
