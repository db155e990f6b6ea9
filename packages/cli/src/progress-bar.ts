/**
 * A one-line progress bar for terminals. Drawn on stderr, and only when stderr is a TTY: piped output
 * and logs stay clean.
 */
export function renderBar(done: number, total: number, width = 30): string {
  const fraction = total > 0 ? Math.min(1, Math.max(0, done / total)) : 1;
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%`;
}

export class ProgressLine {
  private drawn = false;
  constructor(
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  get enabled(): boolean {
    return this.stream.isTTY === true;
  }

  update(done: number, total: number, detail = ''): void {
    if (!this.enabled) return;
    this.stream.write(`\r${this.label} ${renderBar(done, total)} ${done}/${total}${detail ? ` ${detail}` : ''}\x1b[K`);
    this.drawn = true;
  }

  /** Wipes the line (to be drawn again by the next update), so that other output does not run into it. */
  clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }

  /** Ends the line so that what follows starts on a fresh one. */
  finish(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
