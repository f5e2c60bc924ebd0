#!/usr/bin/env node
/**
 * tulle's CNI plugin: the program a runtime runs as type "tulle" (spec 1.0.0:
 * ADD, DEL, CHECK, VERSION). It loads only src/cni and Node built-ins, as it
 * runs on every container start and stop. Every failure is a CNI error on
 * stdout and a non-zero exit, never a stack trace.
 */
import { readFileSync } from 'node:fs';
import { cniCommand, parseCniEnv } from './cni-env.js';
import { add, check, del } from './commands.js';
import { CNI_CODE, CniError } from './errors.js';
import { parseNetConf } from './net-conf.js';
import { versionAnswer } from './versions.js';

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch {
    // No stdin at all (closed, or a terminal that cannot be read): treated as an empty configuration.
    return '';
  }
}

/** The cniVersion the caller asked for, if it can be found at all: errors are written in it. */
function askedVersion(stdin: string): string | undefined {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<number> {
  const stdin = readStdin();
  try {
    const command = cniCommand(process.env);
    if (command === 'VERSION') {
      process.stdout.write(`${JSON.stringify(versionAnswer(askedVersion(stdin)))}\n`);
      return 0;
    }
    const conf = parseNetConf(stdin);
    const env = parseCniEnv(process.env);
    if (command === 'ADD') process.stdout.write(`${JSON.stringify(await add(conf, env))}\n`);
    else if (command === 'DEL') del(conf, env);
    else await check(conf, env);
    return 0;
  } catch (error) {
    const e = error instanceof CniError ? error : new CniError(CNI_CODE.IO_FAILURE, 'unexpected failure', (error as Error).message ?? String(error));
    process.stdout.write(`${JSON.stringify(e.toJSON(versionAnswer(askedVersion(stdin)).cniVersion))}\n`);
    return 1;
  }
}

// Not a top-level await: the standalone binary runs this as CommonJS.
void main().then((code) => {
  process.exitCode = code;
});
