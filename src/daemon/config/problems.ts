/**
 * Configuration problems: each names the field (as the operator wrote it:
 * a key path, an environment variable or a flag), what is wrong or allowed,
 * and the value given. All of them are collected and reported at once.
 */
import type { z } from 'zod';

export type Path = readonly (string | number)[];

export interface Problem {
  path: Path;
  /** What is wrong, or what is allowed. */
  message: string;
  /** The value given, when there is one worth showing. */
  value?: unknown;
}

/** Where a value came from: an environment variable, a flag, or a key of flannel's form ("Backend.Type"). */
export interface Origin {
  kind: 'env' | 'flag' | 'key';
  name: string;
}

/** Origins by dotted path; a `key` origin covers its subtree. */
export type Origins = Map<string, Origin>;

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export function dotted(path: Path): string {
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`))
    .join('')
    .replace(/^\./, '');
}

/** The value at `path` in `input`, or undefined. */
export function valueAt(input: unknown, path: Path): unknown {
  let at = input;
  for (const key of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at;
}

/** The name the operator knows a field by: the key as written, with the variable or flag that set it. */
export function fieldName(path: Path, origins: Origins): string {
  for (let n = path.length; n > 0; n--) {
    const origin = origins.get(dotted(path.slice(0, n)));
    if (origin === undefined) continue;
    const rest = dotted(path.slice(n));
    if (origin.kind === 'key') return origin.name + (rest === '' || rest.startsWith('[') ? rest : `.${rest}`);
    return `${dotted(path)} (${origin.name})`;
  }
  return dotted(path) || '(top level)';
}

export function formatProblem(problem: Problem, origins: Origins): string {
  const shown =
    problem.value !== undefined && (typeof problem.value !== 'object' || problem.value === null)
      ? ` (got ${JSON.stringify(problem.value)})`
      : problem.value !== undefined
        ? ` (got ${truncate(JSON.stringify(problem.value))})`
        : '';
  return `${fieldName(problem.path, origins)}: ${problem.message}${shown}`;
}

function truncate(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** zod's issues as problems: one per unknown key, the value at each path attached. */
export function fromZod(issues: readonly z.core.$ZodIssue[], input: unknown): Problem[] {
  const out: Problem[] = [];
  for (const issue of issues) {
    const path = issue.path as (string | number)[];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: [...path, key], message: issue.message, value: valueAt(input, [...path, key]) });
      continue;
    }
    const value = valueAt(input, path);
    let message = issue.message;
    if (value === undefined && issue.code === 'invalid_type') message = `is required (${message})`;
    out.push({ path, message, value });
  }
  return out;
}
