/**
 * Where configuration comes from, merged in this order, later winning:
 *
 *   defaults (schema.ts)  <  file (YAML or JSON)  <  TULLE_* variables  <  flags
 *
 * Each source becomes a plain object in tulle's camelCase form plus the
 * origin of what it set, so a problem names the variable or flag to fix.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { fromFlannel, isFlannelForm } from './flannel.js';
import { syntaxMessage } from './syntax-error.js';
import type { Origins, Problem } from './problems.js';
import { convert, flagKey, SETTINGS, type Setting } from './settings.js';

export interface Layer {
  value: Record<string, unknown>;
  origins: Origins;
  problems: Problem[];
}

const empty = (): Layer => ({ value: {}, origins: new Map(), problems: [] });

/** Reads a file: `.json` as JSON, anything else as YAML (which also reads JSON). */
export function fileLayer(file: string): Layer {
  const layer = empty();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    layer.problems.push({
      path: [],
      message: `cannot read the configuration file ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message}`,
    });
    return layer;
  }
  let parsed: unknown;
  try {
    parsed = extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text, { uniqueKeys: true });
  } catch (error) {
    const kind = extname(file).toLowerCase() === '.json' ? 'JSON' : 'YAML';
    layer.problems.push({ path: [], message: syntaxMessage(file, kind, text, error as Error) });
    return layer;
  }
  if (parsed === null || parsed === undefined) return layer; // an empty file configures nothing
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    layer.problems.push({ path: [], message: `${file} must hold a mapping of keys (like network: 198.18.0.0/16)`, value: parsed });
    return layer;
  }
  if (!isFlannelForm(parsed as Record<string, unknown>)) return { ...layer, value: parsed as Record<string, unknown> };
  return fromFlannel(parsed as Record<string, unknown>);
}

/** TULLE_* variables, per the settings table. */
export function envLayer(env: NodeJS.ProcessEnv): Layer {
  const layer = empty();
  for (const s of SETTINGS) {
    const text = env[s.env];
    if (text === undefined || text === '') continue;
    setPath(layer.value, s.path, convert(s.kind, text));
    layer.origins.set(s.path, { kind: 'env', name: s.env });
  }
  return layer;
}

/** Flags as commander parsed them (camelCase option names), per the settings table. */
export function flagLayer(options: Record<string, unknown>): Layer {
  const layer = empty();
  for (const s of SETTINGS) {
    if (s.refusedFlag !== undefined && options[flagKey(s.refusedFlag)] !== undefined) {
      // The value is not kept, nor shown: it is a secret that argv has already made visible.
      layer.origins.set(s.path, { kind: 'flag', name: `--${s.refusedFlag}` });
      layer.problems.push({ path: s.path.split('.'), message: refusedFlagMessage(s.refusedFlag, s.env, SETTINGS) });
    }
    // The first spelling given wins: the setting's own flag, then its aliases.
    const flag = [s.flag, ...(s.aliases ?? [])].find((f) => f !== undefined && options[flagKey(f)] !== undefined);
    if (flag === undefined) continue;
    const given = options[flagKey(flag)];
    setPath(layer.value, s.path, typeof given === 'string' ? convert(s.kind, given) : given);
    layer.origins.set(s.path, { kind: 'flag', name: `--${flag}` });
  }
  return layer;
}

/** Why a secret's flag is refused, and where the secret goes instead. */
function refusedFlagMessage(flag: string, env: string, settings: readonly Setting[]): string {
  const fileFlag = settings.find((s) => s.flag === `${flag}-file`)?.flag;
  return (
    `--${flag} is not accepted: a password on the command line can be read by every user of this host (ps, /proc/PID/cmdline); ` +
    `put it in a file and give ${fileFlag !== undefined ? `--${fileFlag}` : 'the file setting'}, or set ${env}`
  );
}

/**
 * Merges layers, later over earlier. Mappings merge key by key, except that a
 * mapping whose `type` changes (backend, store) is replaced whole: the old
 * type's options would not fit the new one.
 */
export function mergeLayers(layers: Layer[]): Layer {
  const out = empty();
  for (const layer of layers) {
    out.value = mergeValue(out.value, layer.value) as Record<string, unknown>;
    for (const [path, origin] of layer.origins) out.origins.set(path, origin);
    out.problems.push(...layer.problems);
  }
  return out;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function mergeValue(base: unknown, over: unknown): unknown {
  if (!isMapping(base) || !isMapping(over)) return over;
  if ('type' in over && 'type' in base && over.type !== base.type) return { ...over };
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = key in out ? mergeValue(out[key], value) : value;
  return out;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let at = target;
  for (const key of keys.slice(0, -1)) {
    if (!isMapping(at[key])) at[key] = {};
    at = at[key] as Record<string, unknown>;
  }
  at[keys[keys.length - 1]] = value;
}
