/** The Prometheus text format, read just enough for the soak's samples (pure). */

/** Every sample line as `name{labels}` → value; labels kept as written, e.g. `tulle_gossip_bytes_total{direction="tx"}`. */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    // The value is the field after the name (and its labels); a timestamp may follow it.
    const close = line.lastIndexOf('}');
    const rest = (close >= 0 ? line.slice(close + 1) : line.slice(line.indexOf(' '))).trim().split(/\s+/);
    const key = close >= 0 ? line.slice(0, close + 1) : line.slice(0, line.indexOf(' '));
    const value = Number(rest[0]);
    if (key !== '' && rest[0] !== undefined && !Number.isNaN(value)) out.set(key, value);
  }
  return out;
}

/** The value of `key`, or throws naming it: a missing series means the daemon's metrics changed under the soak. */
export function metric(metrics: Map<string, number>, key: string): number {
  const v = metrics.get(key);
  if (v === undefined) throw new Error(`/metrics has no ${key}`);
  return v;
}

/** All series of `name` whose labels are `label="…"`, as label value → number. */
export function byLabel(metrics: Map<string, number>, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  const prefix = `${name}{${label}="`;
  for (const [key, value] of metrics) {
    if (key.startsWith(prefix) && key.endsWith('"}')) out[key.slice(prefix.length, -2)] = value;
  }
  return out;
}
