/**
 * Every `PICAS_*` variable something in picas reads, for telling a typo (`PICAS_PASWORD`) from a setting:
 * the connection settings and every picas-worker option's env twin (from their option tables), plus the
 * variables the launchers, pilots, the embedded server, the examples, the benchmarks and the test scripts read.
 * (`PICAS_TEST_*`, the test runner's own, are all known: see @picas/core env-names.)
 */
import { connectionSettings } from '@picas/core';
import { workerSettings } from '@picas/worker/options';

const OTHER_PICAS_NAMES = [
  'PICAS_CONFIG',
  // launchers and pilot scripts (packages/launch, picas launch/slurm/firecrest)
  'PICAS_WORKER_CMD',
  'PICAS_ENV_FILE',
  'PICAS_WORKER_BUNDLE',
  'PICAS_WORKER_BUNDLE_FILE',
  'PICAS_NODE',
  'PICAS_LAUNCHER',
  'PICAS_FIRECREST_WORKDIR',
  'PICAS_FIRECREST_STATE',
  // what a pilot gives each token's command
  'PICAS_TOKEN_ID',
  'PICAS_TOKEN_INPUT',
  'PICAS_TOKEN_INPUT_FILE',
  'PICAS_TOKEN_DIR',
  'PICAS_DEPENDS_ON',
  'PICAS_CPUS',
  'PICAS_GPUS',
  'PICAS_MEM',
  // read by the example workflows' token commands (examples/dag)
  'PICAS_DAG_DIR',
  // picas passwd, the embedded server
  'PICAS_NEW_PASSWORD',
  'PICAS_SERVER_ADMIN_USER',
  'PICAS_SERVER_ADMIN_PASSWORD',
  // paging and progress (tests and tuning)
  'PICAS_PAGE_SIZE',
  'PICAS_PAGE_PAUSE_MS',
  'PICAS_PROGRESS_EVERY_MS',
  // test, build and benchmark scripts
  'PICAS_REQUIRE_SLURM',
  'PICAS_REQUIRE_COUCHDB',
  'PICAS_REQUIRE_BROWSER',
  'PICAS_COUCHDB_HOME',
  'PICAS_CLUSTER_TOKENS',
  'PICAS_SKIP_BUILD',
  'PICAS_SLURM_DIR',
  'PICAS_SLURM_CPUS',
  'PICAS_CLUSTER_ROUNDS',
  'PICAS_BENCH_PILOTS',
  'PICAS_BENCH_PROC',
  'PICAS_BENCH_CPU_FILE',
];

export const KNOWN_PICAS_NAMES: ReadonlySet<string> = new Set([...[...connectionSettings, ...workerSettings].flatMap((spec) => spec.env), ...OTHER_PICAS_NAMES]);
