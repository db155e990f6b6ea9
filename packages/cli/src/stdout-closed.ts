/**
 * Notices when the reader of stdout goes away (`picas list | head`): instead of an EPIPE crash, the
 * command stops reading from CouchDB and exits quietly, as `git log | head` does.
 */
export interface StdoutWatch {
  /** aborted when stdout's reader has gone */
  signal: AbortSignal;
  dispose(): void;
}

export function watchStdoutClosed(): StdoutWatch {
  const controller = new AbortController();
  const onError = (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') controller.abort();
    else throw err;
  };
  process.stdout.on('error', onError);
  return { signal: controller.signal, dispose: () => process.stdout.off('error', onError) };
}
