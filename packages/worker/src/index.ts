export * from './options.js';
export { Worker, type WorkerContext } from './worker.js';
export { summaryLine, type WorkerSummary } from './summary.js';
export { WORKER_NODE_FLAGS } from './node-flags.js';
export type { TokenRun, TokenWork } from './token-work.js';
export { FunctionWork, FUNCTION_FAILED_EXIT, FUNCTION_TIMEOUT_EXIT, type FunctionWorkContext, type FunctionWorkOptions, type TokenFunction } from './function-work.js';
export { newWorkerId, shortHostname } from './worker-id.js';
