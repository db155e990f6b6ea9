// yargs 18 ships no type declarations (and @types/yargs is not a dependency): the little we use.
declare module 'yargs' {
  interface OptionSpec {
    type?: 'string' | 'boolean' | 'number' | 'array';
    describe?: string;
    alias?: string | string[];
    hidden?: boolean;
    group?: string;
    requiresArg?: boolean;
  }
  interface Argv {
    scriptName(name: string): Argv;
    usage(text: string): Argv;
    options(specs: Record<string, OptionSpec>): Argv;
    option(name: string, spec: OptionSpec): Argv;
    strict(enabled?: boolean): Argv;
    help(): Argv;
    alias(key: string, alias: string): Argv;
    version(enabled: boolean): Argv;
    wrap(columns: number | null): Argv;
    epilogue(text: string): Argv;
    example(command: string, description: string): Argv;
    parserConfiguration(config: Record<string, boolean>): Argv;
    fail(handler: (message: string | undefined, error: Error | undefined, yargs: Argv) => void): Argv;
    showHelp(level?: string): Argv;
    exitProcess(enabled: boolean): Argv;
    terminalWidth(): number;
    parseAsync(): Promise<Record<string, unknown>>;
    parse(): Record<string, unknown>;
  }
  function yargs(args?: readonly string[]): Argv;
  export default yargs;
}
declare module 'yargs/helpers' {
  export function hideBin(argv: readonly string[]): string[];
}
