export * from './options.js';
export { Worker, type WorkerContext } from './worker.js';
export { summaryLine, type WorkerSummary } from './summary.js';
export { WORKER_NODE_FLAGS } from './node-flags.js';
