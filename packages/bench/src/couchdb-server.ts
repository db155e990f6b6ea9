/**
 * The real CouchDB 3.5 the bench measures beside the embedded server: a single node started from
 * `../shared/couchdb` on a free port (stopped at the end), or an external one given with `--url`.
 * Server CPU is read from /proc: beam.smp itself, and the couchjs processes it starts (children of its
 * erl_child_setup), including the ones that have already ended (their parent's cutime/cstime).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { procStat } from '@picas/core';

/** CPU time of a server, split into its Erlang VM and its JavaScript (couchjs) processes, in ms. */
export interface ServerCpu {
  total: number;
  beam: number;
  js: number;
}

const ticksMs = (a: string | undefined, b: string | undefined) => (Number(a) + Number(b)) * 10;

/** Every process whose parent is `pid` (one scan of /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const f = procStat(Number(e));
    if (f && Number(f[1]) === pid) out.push(Number(e));
  }
  return out;
}

/**
 * CPU of beam.smp `pid` and its descendants: `beam` is the VM's own time; `js` every descendant's own time
 * plus what the descendants' ended children used (cutime/cstime), and beam's ended children's.
 */
export function beamCpu(pid: number): ServerCpu {
  const f = procStat(pid);
  if (!f) return { total: NaN, beam: NaN, js: NaN };
  const beam = ticksMs(f[11], f[12]);
  let js = ticksMs(f[13], f[14]);
  const stack = childrenOf(pid);
  while (stack.length) {
    const child = stack.pop()!;
    const cf = procStat(child);
    if (!cf) continue;
    js += ticksMs(cf[11], cf[12]) + ticksMs(cf[13], cf[14]);
    stack.push(...childrenOf(child));
  }
  return { total: beam + js, beam, js };
}

/** The pid of the beam.smp serving `port` on this machine, found by its node name (couchdb-PORT@...). */
export function findBeamPid(port: number): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (cmd.includes('beam.smp') && cmd.includes(`couchdb-${port}@`)) return Number(e);
    } catch {
      // gone
    }
  }
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

export interface CouchDBNode {
  url: string;
  username: string;
  password: string;
  port: number;
  pid?: number;
  stop(): Promise<void>;
}

function run(file: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((res, rej) =>
    execFile(file, args, { timeout: 180_000 }, (err, stdout, stderr) => (err ? rej(new Error(`${file} ${args.join(' ')}: ${stderr.trim().split('\n').pop() ?? err.message}`)) : res({ stdout, stderr }))),
  );
}

/** `script` is ../shared/couchdb/couchdb; undefined when that folder is not there. */
export function couchdbScript(root: string): string | undefined {
  const script = `${root}/../shared/couchdb/couchdb`;
  return existsSync(script) ? script : undefined;
}

/** Starts a fresh single node on `port` (a free one by default). */
export async function startCouchDB(script: string, port?: number): Promise<CouchDBNode> {
  const p = port ?? (await freePort());
  const { stdout } = await run(script, ['start', '--port', String(p), '--fresh']);
  const printed = new URL(stdout.trim().split('\n').pop()!);
  const username = decodeURIComponent(printed.username);
  const password = decodeURIComponent(printed.password);
  printed.username = '';
  printed.password = '';
  return {
    url: printed.toString().replace(/\/+$/, ''),
    username,
    password,
    port: p,
    pid: findBeamPid(p),
    stop: async () => {
      await run(script, ['stop', '--port', String(p)]).catch((err) => process.stderr.write(`bench: stopping CouchDB: ${err.message}\n`));
    },
  };
}
