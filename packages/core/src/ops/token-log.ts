/** A token's log attachments, `logs_<id>.out` and `logs_<id>.err` (PiCaS' names): which it has, and their bytes. */
import type { CouchHttp } from '../couch/http.js';
import type { TokenDoc } from '../token.js';

export type LogStream = 'out' | 'err';

/** `logs_<id>.out` or `logs_<id>.err`. */
export function logAttachmentName(id: string, stream: LogStream): string {
  return `logs_${id}.${stream}`;
}

/** True when the document (with its attachment stubs) has that log. */
export function hasLog(doc: Pick<TokenDoc, '_id' | '_attachments'>, stream: LogStream): boolean {
  return Object.hasOwn(doc._attachments ?? {}, logAttachmentName(doc._id, stream));
}

/** The log's bytes, as the pilot stored them. */
export async function readTokenLog(http: CouchHttp, id: string, stream: LogStream, signal?: AbortSignal): Promise<Buffer> {
  const name = logAttachmentName(id, stream);
  return http.expectOk<Buffer>({ path: http.docPath(id, name), raw: true, headers: { accept: '*/*' }, signal }, `reading ${name}`);
}
