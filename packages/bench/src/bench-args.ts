/** The bench's command line. */
import { join, resolve } from 'node:path';
import { root } from './bench-paths.js';

export interface Args {
  quick: boolean;
  url?: string;
  /** which servers to measure: the embedded one, and a real CouchDB (../shared/couchdb or --url) */
  servers: Set<'embedded' | 'couchdb'>;
  couchdbPort?: number;
  username?: string;
  password?: string;
  out: string;
  /** `--scale`: the large-pool bench (scale.ts), instead of the default run */
  scale?: boolean;
  scaleTokens?: number;
  scaleDrain?: number;
  /** `--vs-worker PATH`: this checkout's picas-worker against another build's, alternated (worker-vs.ts) */
  vsWorker?: string;
  vsRounds: number;
  vsPilots: number[];
  vsTokens?: number;
  /** `--mixed`: only the mixed-shapes step (mixed-pool.ts), with --tokens tokens */
  mixed?: boolean;
  /** `--sweep`: only the sweep-push step (sweep-push.ts), with --tokens points (default 1,000,000) */
  sweep?: boolean;
  /** `--autoscale`: only autoscale vs a fixed launch (autoscale-vs-fixed.ts), with --tokens tokens and --cap pilots */
  autoscale?: boolean;
  cap: number;
}

export function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, out: join(root, 'bench'), servers: new Set(['embedded', 'couchdb']), vsRounds: 3, vsPilots: [4, 16], cap: 4 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--url') args.url = argv[++i];
    else if (a === '--out') args.out = resolve(argv[++i]!);
    else if (a === '--only') args.servers = new Set([argv[++i] as 'embedded' | 'couchdb']);
    else if (a === '--couchdb-port') args.couchdbPort = Number(argv[++i]);
    else if (a === '--scale') args.scale = true;
    else if (a === '--scale-tokens') args.scaleTokens = positiveInt(a, argv[++i]);
    else if (a === '--scale-drain') args.scaleDrain = positiveInt(a, argv[++i]);
    else if (a === '--mixed') args.mixed = true;
    else if (a === '--sweep') args.sweep = true;
    else if (a === '--autoscale') args.autoscale = true;
    else if (a === '--cap') args.cap = positiveInt(a, argv[++i]);
    else if (a === '--vs-worker') args.vsWorker = argv[++i];
    else if (a === '--rounds') args.vsRounds = positiveInt(a, argv[++i]);
    else if (a === '--pilots') args.vsPilots = (argv[++i] ?? '').split(',').map((n) => positiveInt(a, n));
    else if (a === '--tokens') args.vsTokens = positiveInt(a, argv[++i]);
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: npm run bench [-- --quick | --scale [--scale-tokens N] [--scale-drain N]] [-- --url URL] [-- --only embedded|couchdb] [-- --couchdb-port N] [-- --out DIR]\n       npm run bench -- --vs-worker OTHER/packages/worker/dist/src/bin.js [--rounds 3] [--pilots 4,16] [--tokens 2000] [--only couchdb]\n       npm run bench -- --mixed [--tokens 1000] [--only couchdb] [--vs-worker OTHER/packages/worker/dist/src/bin.js]\n       npm run bench -- --sweep [--tokens 1000000] [--only couchdb]\n       npm run bench -- --autoscale [--tokens 200] [--cap 4] [--only embedded]\n  credentials: PICAS_USERNAME / PICAS_PASSWORD\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  args.username = process.env.PICAS_USERNAME;
  args.password = process.env.PICAS_PASSWORD;
  return args;
}

export function positiveInt(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a whole number above 0, not ${value ?? 'nothing'}`);
  return n;
}
