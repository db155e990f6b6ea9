export * from './options.js';
export { Worker, summaryLine, type WorkerContext, type WorkerSummary } from './worker.js';
