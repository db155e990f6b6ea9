/**
 * A small RFC 4180 CSV reader for `picas push --rows params.csv`: fields separated by commas, records by
 * CRLF or LF; a field in double quotes may hold commas, line breaks and `""` (one quote). The first record
 * is the header. Problems name the file and line.
 */

export interface CsvTable {
  header: string[];
  rows: string[][];
  /** the line each row starts on, for messages */
  lines: number[];
}

export type CsvResult = { table: CsvTable } | { problem: string };

/** Parses `text` (the content of `name`) into a header and rows of the header's width. */
export function parseCsv(name: string, text: string): CsvResult {
  const records: Array<{ fields: string[]; line: number }> = [];
  let fields: string[] = [];
  let field = '';
  // a record of one empty unquoted field is a blank line, not a row
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let i = text.startsWith('\uFEFF') ? 1 : 0;
  const endField = () => {
    fields.push(field);
    field = '';
  };
  const endRecord = () => {
    endField();
    if (fields.length > 1 || fields[0] !== '' || quoted) records.push({ fields, line: recordLine });
    fields = [];
    quoted = false;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"' && field === '') {
      // a quoted field: up to the closing quote, `""` standing for one quote
      const opened = line;
      quoted = true;
      for (i++; ; ) {
        if (i >= text.length) return { problem: `${name}:${opened}: a quoted field is never closed` };
        const q = text[i++]!;
        if (q === '"' && text[i] === '"') {
          field += '"';
          i++;
        } else if (q === '"') break;
        else {
          if (q === '\n') line++;
          field += q;
        }
      }
      const next = text[i];
      if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
        return { problem: `${name}:${line}: text after a closing quote (a quote inside a quoted field is written "")` };
      }
      continue;
    }
    if (c === '"') return { problem: `${name}:${line}: a quote inside an unquoted field (quote the whole field and write "")` };
    if (c === ',') endField();
    else if (c === '\r' || c === '\n') {
      endRecord();
      if (c === '\r' && text[i + 1] === '\n') i++;
      line++;
      recordLine = line;
    } else field += c;
    i++;
  }
  if (field !== '' || fields.length > 0 || quoted) endRecord();
  if (records.length === 0) return { problem: `${name}: the file is empty (it needs a header naming the placeholders)` };
  const [head, ...body] = records;
  const header = head!.fields.map((h) => h.trim());
  if (body.length === 0) return { problem: `${name}: no rows after the header` };
  for (const record of body) {
    if (record.fields.length !== header.length) {
      return { problem: `${name}:${record.line}: ${record.fields.length} fields, but the header has ${header.length}` };
    }
  }
  return { table: { header, rows: body.map((r) => r.fields), lines: body.map((r) => r.line) } };
}
