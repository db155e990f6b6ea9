/**
 * A sweep's command template: `sim --q {q} --out {dir:raw}/x`. `{name}` is replaced by the value shell-quoted
 * (left bare when it is only safe characters), `{name:raw}` by the value as it is. `${VAR}` stays the
 * shell's, and `{{` / `}}` are a literal brace, so `{{q}}` is the text `{q}`.
 */

export const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A template split into literal text and placeholders. */
export interface Template {
  text: string;
  /** literal text before each placeholder, and after the last: `parts.length === slots.length + 1` */
  parts: string[];
  slots: Array<{ name: string; raw: boolean }>;
  /** the placeholder names, each once, in order of first use */
  names: string[];
}

export type TemplateResult = { template: Template } | { problem: string };

const TOKEN = /\{\{|\}\}|\$\{|\{([^{}]*)\}/g;

/** Splits `text` into parts and placeholders; a malformed placeholder (`{q:quoted}`, `{1x}`) is a problem. */
export function parseTemplate(text: string, where = '--template'): TemplateResult {
  if (text.trim() === '') return { problem: `${where}: the template is empty` };
  if (text.includes('\0')) return { problem: `${where}: the template holds a NUL byte, which no shell command can hold` };
  const parts: string[] = [];
  const slots: Template['slots'] = [];
  let literal = '';
  let at = 0;
  // inside `${...}` nothing is a placeholder
  for (const match of text.matchAll(TOKEN)) {
    const index = match.index!;
    if (index < at) continue;
    literal += text.slice(at, index);
    at = index + match[0].length;
    if (match[0] === '{{') literal += '{';
    else if (match[0] === '}}') literal += '}';
    else if (match[0] === '${') {
      const close = text.indexOf('}', at);
      const end = close === -1 ? text.length : close + 1;
      literal += text.slice(index, end);
      at = end;
    } else {
      const [name, modifier, extra] = match[1]!.split(':');
      if (!PARAM_NAME.test(name ?? '')) {
        // `{a,b}` and `{1..3}` are bash brace expansions, not placeholders
        literal += match[0];
        continue;
      }
      if (extra !== undefined || (modifier !== undefined && modifier !== 'raw')) {
        return { problem: `${where}: placeholder '${match[0]}': the only modifier is ':raw' (the value unquoted)` };
      }
      parts.push(literal);
      literal = '';
      slots.push({ name: name!, raw: modifier === 'raw' });
    }
  }
  parts.push(literal + text.slice(at));
  const names = [...new Set(slots.map((s) => s.name))];
  if (names.length === 0) return { problem: `${where}: the template has no placeholders (like {q}); it would make one token` };
  return { template: { text, parts, slots, names } };
}

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** `value` as one shell word: bare when it is only safe characters, else in single quotes. */
export function shellQuote(value: string): string {
  if (SAFE.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The template with every placeholder filled from `values` (by name). */
export function fillTemplate(template: Template, values: (name: string) => string): string {
  let out = template.parts[0]!;
  for (let i = 0; i < template.slots.length; i++) {
    const slot = template.slots[i]!;
    const value = values(slot.name);
    out += (slot.raw ? value : shellQuote(value)) + template.parts[i + 1]!;
  }
  return out;
}

/** The environment name a parameter reaches the token's command under: `PICAS_PARAM_<NAME>`. */
export function paramEnvName(name: string): string {
  return `PICAS_PARAM_${name.toUpperCase()}`;
}
