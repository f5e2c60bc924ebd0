/**
 * Loading the configuration: the sources merged (sources.ts), then every
 * check — shape, across fields, against the host — with all problems
 * reported together in one ConfigError. Nothing on the host changes here.
 */
import { hostChecks, type HostFacts } from './host-checks.js';
import { crossChecks } from './checks.js';
import { ConfigError, formatProblem, fromZod, type Origins, type Problem } from './problems.js';
import { DaemonConfigSchema, type DaemonConfig } from './schema.js';
import { envLayer, fileLayer, flagLayer, mergeLayers, type Layer } from './sources.js';

export interface LoadOptions {
  /** Configuration file (YAML or JSON, tulle's keys or flannel's net-conf.json). */
  file?: string;
  /** TULLE_* variables; default: none. */
  env?: NodeJS.ProcessEnv;
  /** Flags as commander parsed them. */
  flags?: Record<string, unknown>;
  /** Also check against this host (ports, privileges, addresses); `tulle run` always does. */
  host?: boolean;
}

export interface LoadedConfig {
  config: DaemonConfig;
  /** Present when the host was checked. */
  facts?: HostFacts;
  origins: Origins;
}

export async function loadConfig(options: LoadOptions): Promise<LoadedConfig> {
  const layers: Layer[] = [];
  if (options.file !== undefined) layers.push(fileLayer(options.file));
  layers.push(envLayer(options.env ?? {}), flagLayer(options.flags ?? {}));
  const merged = mergeLayers(layers);
  const fail = (problems: Problem[]) => new ConfigError(problems.map((p) => formatProblem(p, merged.origins)));
  // A file that cannot be read or parsed says so alone: checking the rest would only add noise.
  const unreadable = merged.problems.filter((p) => p.path.length === 0);
  if (unreadable.length > 0) throw fail(unreadable);

  const problems = [...merged.problems];
  const parsed = DaemonConfigSchema.safeParse(merged.value);
  if (!parsed.success) problems.push(...fromZod(parsed.error.issues, merged.value));
  problems.push(...crossChecks(merged.value));
  let facts: HostFacts | undefined;
  if (options.host) {
    const host = await hostChecks(merged.value);
    problems.push(...host.problems);
    facts = host.facts;
  }
  if (problems.length > 0 || !parsed.success) throw fail(problems);
  return { config: parsed.data, facts, origins: merged.origins };
}
