/**
 * Every problem with a command's options at once: one problem is the message; several are summed up
 * (`invalid configuration (3 problems)`) and listed by the top-level error printer.
 */
import { UsageError } from '@picas/core';

export function throwIfProblems(problems: readonly string[], summary: (n: number) => string = (n) => `${n} problems`): void {
  if (problems.length === 0) return;
  throw new UsageError(problems.length === 1 ? problems[0]! : summary(problems.length), { problems: [...problems] });
}
