/** Plain-text tables: columns padded to the widest cell, two spaces apart. */
export function formatTable(rows: ReadonlyArray<readonly string[]>, options: { alignRight?: readonly number[] } = {}): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const right = new Set(options.alignRight ?? []);
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 && !right.has(i) ? cell : right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** One line of at most `max` characters, for showing a token's input in a table cell. */
export function excerpt(value: unknown, max = 60): string {
  const text = (typeof value === 'string' ? value : JSON.stringify(value) ?? '').replace(/\s+/g, ' ').trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
