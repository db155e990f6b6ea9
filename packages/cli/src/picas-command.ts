/**
 * The commander Command every picas command is made of (subcommands too, through `createCommand`), so that
 * help reads the same everywhere: the text added after the options is wrapped to the terminal's width as
 * the options are, and defaults are shown as a user writes them (`10s`, `token`; not `10000`, `"token"`).
 */
import { Command, Help, type AddHelpTextContext, type AddHelpTextPosition, type Option } from 'commander';
import { durationText } from '@picas/core';
import { durationOption } from './option-parsers.js';

/** Help lines are wrapped to this width when the output is not a terminal (commander's own default). */
const DEFAULT_HELP_WIDTH = 80;

export class PicasCommand extends Command {
  override createCommand(name?: string): Command {
    return new PicasCommand(name);
  }

  override addHelpText(position: AddHelpTextPosition, text: string | ((context: AddHelpTextContext) => string)): this {
    return super.addHelpText(position, (context) => wrapHelpText(typeof text === 'string' ? text : text(context), helpWidth(context)));
  }

  override addOption(option: Option): this {
    if (option.defaultValue !== undefined && option.defaultValueDescription === undefined) {
      const value: unknown = option.defaultValue;
      option.defaultValueDescription = option.parseArg === durationOption && typeof value === 'number' ? durationText(value) : String(value);
    }
    return super.addOption(option);
  }
}

/**
 * The help layout (for `configureHelp`, which commander copies to every subcommand): the connection options
 * listed in every command's help, and descriptions wrapped to the width even beside a very long option
 * (e.g. a launcher's `--time-budget <duration>`): such an option gets its description on the lines below it.
 */
export const helpLayout: Partial<Help> = {
  showGlobalOptions: true,
  padWidth(this: Help, cmd: Command, helper: Help): number {
    const widest = Help.prototype.padWidth.call(this, cmd, helper);
    return Math.min(widest, Math.max(16, (helper.helpWidth ?? DEFAULT_HELP_WIDTH) - 4 - helper.minWidthToWrap));
  },
  formatItem(this: Help, term: string, termWidth: number, description: string, helper: Help): string {
    const base = Help.prototype.formatItem;
    if (!description || helper.displayWidth(term) <= termWidth) return base.call(this, term, termWidth, description, helper);
    return `  ${term}\n${base.call(this, '', termWidth, description, helper)}`;
  },
};

function helpWidth(context: AddHelpTextContext): number {
  const output = context.command.configureOutput();
  return (context.error ? output.getErrHelpWidth?.() : output.getOutHelpWidth?.()) || DEFAULT_HELP_WIDTH;
}

/**
 * Wraps each line at spaces to `width` columns. A continued line keeps the line's indent, two more when it
 * is indented (an example command), so that it still reads as part of it.
 */
export function wrapHelpText(text: string, width: number): string {
  return text
    .split('\n')
    .map((line) => {
      if (line.length <= width) return line;
      const indent = /^\s*/.exec(line)![0];
      const next = indent ? `${indent}  ` : '';
      const out: string[] = [];
      let current = indent;
      for (const word of line.slice(indent.length).split(/ +/)) {
        const prefix = out.length === 0 ? indent : next;
        if (current.length > prefix.length && current.length + 1 + word.length > width) {
          out.push(current);
          current = next + word;
        } else {
          current = current.length > prefix.length ? `${current} ${word}` : prefix + word;
        }
      }
      out.push(current);
      return out.join('\n');
    })
    .join('\n');
}
