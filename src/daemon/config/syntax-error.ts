/** A configuration file that does not parse: the reason, the line and column, and that line with a caret under the column. */
import { jsonErrorOffset } from './json-position.js';

/** Line and column (both from 1) of an offset into text. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/** The message for a file that is not valid YAML or JSON; `error` is what the parser threw. */
export function syntaxMessage(file: string, kind: 'YAML' | 'JSON', text: string, error: Error): string {
  // yaml's message ends in a code frame after "at line L, column C:"; keep the reason, draw the frame ourselves.
  // Node's JSON message may quote the text around the error over several lines: the frame below shows it instead.
  const reason = error.message
    .replace(/, (\.\.\.)?"[\s\S]*" is not valid JSON$/, '')
    .split('\n')[0]
    .replace(/ at line \d+, column \d+:?$/, '')
    .replace(/ in JSON at position \d+.*$/, '')
    .replace(/:$/, '');
  const linePos = (error as { linePos?: { line: number; col: number }[] }).linePos?.[0];
  const where = linePos !== undefined ? { line: linePos.line, column: linePos.col } : kind === 'JSON' ? jsonWhere(text) : undefined;
  if (where === undefined) return `${file} is not valid ${kind}: ${reason}`;
  const shown = (text.split('\n')[where.line - 1] ?? '').replace(/\r$/, '');
  return `${file} is not valid ${kind} at line ${where.line}, column ${where.column}: ${reason}\n    ${where.line} | ${shown}\n    ${' '.repeat(String(where.line).length)} | ${' '.repeat(where.column - 1)}^`;
}

function jsonWhere(text: string): { line: number; column: number } | undefined {
  const offset = jsonErrorOffset(text);
  return offset === undefined ? undefined : lineColumn(text, offset);
}
