/** The servers the bench measures: the embedded one (started here) and a real CouchDB (../shared/couchdb, or --url). */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { cpuTimeMs, isLoopbackHost } from '@picas/core';
import type { Args } from './bench-args.js';
import { Http } from './bench-http.js';
import { root } from './bench-paths.js';
import { stopChild } from './child-stop.js';
import { beamCpu, couchdbScript, findBeamPid, startCouchDB, type ServerCpu } from './couchdb-server.js';

export interface Server {
  /** 'embedded' or 'couchdb' (a real CouchDB: started from ../shared/couchdb, or --url) */
  kind: 'embedded' | 'couchdb';
  label: string;
  url: string;
  username?: string;
  password?: string;
  /** the server's CPU time so far (ms), when its process is on this machine */
  cpu(): ServerCpu;
  stop(): Promise<void>;
}

const noCpu = (): ServerCpu => ({ total: NaN, beam: NaN, js: NaN });

export async function startServer(): Promise<Server> {
  const password = randomBytes(12).toString('base64url');
  const child = spawn(process.execPath, ['--max-old-space-size=8192', join(root, 'packages/server/dist/src/main.js'), '--in-memory'], {
    env: { ...process.env, PICAS_SERVER_ADMIN_USER: 'admin', PICAS_SERVER_ADMIN_PASSWORD: password },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((res, rej) => {
    createInterface({ input: child.stdout! }).once('line', (l) => res(JSON.parse(l).url));
    child.once('exit', (c) => rej(new Error(`embedded server exited (${c})`)));
  });
  const pid = child.pid!;
  return {
    kind: 'embedded',
    label: 'embedded (express-pouchdb, in memory)',
    url,
    username: 'admin',
    password,
    cpu: () => {
      const total = cpuTimeMs(pid);
      return { total, beam: NaN, js: NaN };
    },
    stop: () => stopChild(child),
  };
}

export async function realCouchDB(args: Args): Promise<Server | undefined> {
  if (args.url) {
    const url = new URL(args.url);
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const pid = isLoopbackHost(url.hostname) ? findBeamPid(port) : undefined;
    return { kind: 'couchdb', label: `CouchDB at ${url.host}${pid ? '' : ' (its CPU is not on this machine)'}`, url: args.url.replace(/\/+$/, ''), username: args.username, password: args.password, cpu: () => (pid ? beamCpu(pid) : noCpu()), stop: async () => {} };
  }
  const script = couchdbScript(root);
  if (!script) return undefined;
  const node = await startCouchDB(script, args.couchdbPort);
  const version = await new Http(node.url, node.username, node.password).call('GET', '/').then((r) => r.body?.version as string | undefined).catch(() => undefined);
  return { kind: 'couchdb', label: `CouchDB ${version ?? '3.x'} single node (../shared/couchdb, default settings)`, url: node.url, username: node.username, password: node.password, cpu: () => (node.pid ? beamCpu(node.pid) : noCpu()), stop: node.stop };
}
