/**
 * Runs a delegated plugin (bridge, host-local…) found on CNI_PATH, as libcni's
 * invoke does: the configuration on stdin, CNI_COMMAND and the other CNI_*
 * variables in the environment, a result or a CNI error on stdout.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { CniCommand, CniEnv } from './cni-env.js';
import { CNI_CODE, CniError } from './errors.js';
import { isObject, type JsonObject } from './net-conf.js';

const TIMEOUT_MS = 60_000;

export function findPlugin(type: string, path: string[]): string {
  if (type.includes('/'))
    throw new CniError(CNI_CODE.INVALID_NETWORK_CONFIG, `invalid plugin type "${type}"`, 'a plugin type is a file name on CNI_PATH, without "/"');
  for (const dir of path) {
    const file = join(dir, type);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not in this folder
    }
  }
  throw new CniError(CNI_CODE.INVALID_NETWORK_CONFIG, `plugin "${type}" not found`, `no executable "${type}" in CNI_PATH (${path.join(':')})`);
}

/** Runs `conf.type` for `command`; returns its parsed stdout (undefined when empty, as DEL's is) or throws its CNI error. */
export function execPlugin(command: CniCommand, conf: JsonObject, env: CniEnv): JsonObject | undefined {
  const type = String(conf.type);
  const file = findPlugin(type, env.path);
  const r = spawnSync(file, [], {
    input: JSON.stringify(conf),
    encoding: 'utf8',
    timeout: TIMEOUT_MS,
    env: {
      ...process.env,
      CNI_COMMAND: command,
      CNI_CONTAINERID: env.containerId,
      CNI_NETNS: env.netns,
      CNI_IFNAME: env.ifname,
      CNI_ARGS: env.args,
      CNI_PATH: env.path.join(':'),
    },
  });
  if (r.error) throw new CniError(CNI_CODE.DELEGATE_FAILED, `${type} ${command} could not run`, r.error.message);
  let out: unknown;
  try {
    out = r.stdout.trim() === '' ? undefined : JSON.parse(r.stdout);
  } catch {
    throw new CniError(CNI_CODE.DELEGATE_FAILED, `${type} ${command} printed something other than JSON`, `${r.stdout.trim()} ${r.stderr.trim()}`.trim());
  }
  if (r.status !== 0) {
    if (isObject(out) && typeof out.code === 'number' && typeof out.msg === 'string') {
      throw new CniError(out.code, `${type}: ${out.msg}`, typeof out.details === 'string' ? out.details : '');
    }
    const why = r.status === null ? `ended by ${r.signal}` : `exit ${r.status}`;
    throw new CniError(CNI_CODE.DELEGATE_FAILED, `${type} ${command} failed (${why})`, r.stderr.trim());
  }
  if (out !== undefined && !isObject(out))
    throw new CniError(CNI_CODE.DELEGATE_FAILED, `${type} ${command} printed JSON that is not an object`, r.stdout.trim());
  return out;
}
