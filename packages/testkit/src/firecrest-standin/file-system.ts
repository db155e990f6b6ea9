/**
 * The stand-in's filesystem endpoints: ls, mkdir, upload (multipart `file`, 204, 413 over 5 MiB), download
 * and view. Paths must be absolute and inside the system's file system (`root`), else 400; a missing one is
 * "No such file or directory" (404) as on the real server.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, lstatSync, readlinkSync, writeFileSync, type Stats } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { basename, join, posix } from 'node:path';
import { HttpFailure, type Reply } from './replies.js';
import { MAX_UPLOAD_BYTES, multipartFile, parseJson } from './request-body.js';

export interface FileSystemOptions {
  system: string;
  /** the system's file system (a real path) */
  root: string;
  /** owner and group of every entry listed */
  user: string;
}

export class StandinFileSystem {
  constructor(private readonly options: FileSystemOptions) {}

  /** The answer to `/filesystem/{system}/ops/{op}`, or undefined for an operation it does not have. */
  answer(op: string | undefined, method: string, query: URLSearchParams, req: IncomingMessage, body: Buffer): Reply | undefined {
    if (op === 'ls' && method === 'GET') {
      const dir = this.checkPath(query.get('path'), 'path');
      const st = statOr404(dir, 'ls');
      const showHidden = query.get('showHidden') === 'true';
      const names = st.isDirectory() ? readdirSync(dir).filter((n) => showHidden || !n.startsWith('.')).sort() : [];
      return { status: 200, json: { output: st.isDirectory() ? names.map((n) => this.entry(join(dir, n))) : [this.entry(dir)] } };
    }
    if (op === 'mkdir' && method === 'POST') {
      const b = parseJson(body) as { sourcePath?: unknown; parent?: unknown };
      const dir = this.checkPath(b?.sourcePath, 'sourcePath');
      if (b.parent === true) mkdirSync(dir, { recursive: true });
      else {
        if (existsSync(dir)) throw new HttpFailure(400, `mkdir: cannot create directory '${dir}': File exists`);
        if (!existsSync(posix.dirname(dir))) throw new HttpFailure(404, `mkdir: cannot create directory '${dir}': No such file or directory`);
        mkdirSync(dir);
      }
      return { status: 201, json: { output: this.entry(dir) } };
    }
    if (op === 'upload' && method === 'POST') {
      const dir = this.checkPath(query.get('path'), 'path');
      if (!statOr404(dir, 'upload').isDirectory()) throw new HttpFailure(400, `upload: '${dir}' is not a directory`);
      const file = multipartFile(req.headers['content-type'], body);
      if (!file) throw new HttpFailure(400, 'file: Field required', 'validation');
      if (file.content.length > MAX_UPLOAD_BYTES) throw new HttpFailure(413, 'File is too large for a direct upload (over 5 MiB): use a transfer job');
      if (!file.name || file.name.includes('/') || file.name === '.' || file.name === '..') throw new HttpFailure(400, `file: '${file.name}' is not a file name`, 'validation');
      writeFileSync(join(dir, file.name), file.content);
      return { status: 204 };
    }
    if (op === 'download' && method === 'GET') {
      const file = this.checkPath(query.get('path'), 'path');
      if (statOr404(file, 'download').isDirectory()) throw new HttpFailure(400, `download: '${file}' is a directory`);
      return { status: 200, bytes: readFileSync(file), headers: { 'content-type': 'application/octet-stream' } };
    }
    if (op === 'view' && method === 'GET') {
      const file = this.checkPath(query.get('path'), 'path');
      if (statOr404(file, 'view').isDirectory()) throw new HttpFailure(400, `view: '${file}' is a directory`);
      const offset = Number(query.get('offset') ?? 0);
      const size = Number(query.get('size') ?? MAX_UPLOAD_BYTES);
      if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(size) || size < 0) throw new HttpFailure(400, 'size and offset must be whole numbers', 'validation');
      const bytes = readFileSync(file).subarray(offset, offset + size);
      return { status: 200, json: { output: bytes.toString('utf8') } };
    }
    return undefined;
  }

  /** An absolute path inside the file system, or 400. */
  private checkPath(value: unknown, field: string): string {
    const { root, system } = this.options;
    if (typeof value !== 'string' || value === '') throw new HttpFailure(400, `${field}: Field required`, 'validation');
    if (!value.startsWith('/')) throw new HttpFailure(400, `${field}: '${value}' is not an absolute path`, 'validation');
    const normal = posix.resolve(value);
    if (normal !== root && !normal.startsWith(root + '/')) {
      throw new HttpFailure(400, `${field}: '${value}' is not inside a file system of system '${system}' (${root})`, 'validation');
    }
    return normal;
  }

  private entry(path: string): Record<string, unknown> {
    const { user } = this.options;
    const st = lstatSync(path);
    return {
      name: basename(path),
      type: st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : '-',
      linkTarget: st.isSymbolicLink() ? readlinkSync(path) : null,
      user,
      group: user,
      permissions: permissionString(st.mode),
      lastModified: st.mtime.toISOString(),
      size: String(st.size),
    };
  }
}

function statOr404(path: string, command: string): Stats {
  try {
    return lstatSync(path);
  } catch {
    throw new HttpFailure(404, `${command}: cannot access '${path}': No such file or directory`);
  }
}

function permissionString(mode: number): string {
  const chars = 'rwxrwxrwx';
  let out = '';
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? chars[i] : '-';
  return out;
}
