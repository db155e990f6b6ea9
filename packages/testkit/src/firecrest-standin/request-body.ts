/** Reading a request's body: bounded in size, as JSON, or as the multipart upload's `file` field. */
import type { IncomingMessage } from 'node:http';
import { HttpFailure } from './replies.js';

export const MAX_UPLOAD_BYTES = 5 * 1024 * 1024;

/** The request body, up to a little over the upload limit (a longer one is cut off and answered with 413). */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_UPLOAD_BYTES + 64 * 1024) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => (tooLarge ? reject(new HttpFailure(413, 'Request body is too large (over 5 MiB)')) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpFailure(400, 'body: Invalid JSON', 'validation');
  }
}

/** The multipart field `file`: its filename and content. */
export function multipartFile(contentType: string | undefined, body: Buffer): { name: string; content: Buffer } | undefined {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType ?? '');
  if (!boundary) return undefined;
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  let start = body.indexOf(delimiter);
  while (start !== -1) {
    const headerStart = start + delimiter.length + 2;
    const next = body.indexOf(delimiter, headerStart);
    if (next === -1) break;
    const headerEnd = body.indexOf('\r\n\r\n', headerStart);
    if (headerEnd !== -1 && headerEnd < next) {
      const headers = body.subarray(headerStart, headerEnd).toString('utf8');
      const disposition = /content-disposition:[^\r\n]*\bname="([^"]*)"(?:[^\r\n]*\bfilename="([^"]*)")?/i.exec(headers);
      if (disposition?.[1] === 'file') {
        return { name: disposition[2] ?? '', content: body.subarray(headerEnd + 4, next - 2) };
      }
    }
    start = next;
  }
  return undefined;
}
