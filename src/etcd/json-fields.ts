/**
 * Reading the JSON that flannel's Go code reads. Go's encoding/json matches
 * object keys to struct fields case-insensitively and treats `null` as "not
 * set"; reading the same documents the same way is what lets tulle read
 * what flannel's users and tools write.
 */

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A JSON document's object fields, looked up by their canonical (flannel) names. */
export class Fields {
  readonly #byLower = new Map<string, string>();

  constructor(readonly object: JsonObject) {
    for (const key of Object.keys(object)) this.#byLower.set(key.toLowerCase(), key);
  }

  /** The value under `name` or a case variant of it; undefined when absent or null (Go's zero value). */
  get(name: string): unknown {
    const key = this.#byLower.get(name.toLowerCase());
    const value = key === undefined ? undefined : this.object[key];
    return value === null ? undefined : value;
  }

  /** Keys that match none of `known`, and keys that name the same field twice (e.g. "VNI" and "vni"). */
  unknownKeys(known: readonly string[]): string[] {
    const lower = new Set(known.map((k) => k.toLowerCase()));
    const seen = new Set<string>();
    const out: string[] = [];
    for (const key of Object.keys(this.object)) {
      const l = key.toLowerCase();
      if (!lower.has(l) || seen.has(l)) out.push(key);
      seen.add(l);
    }
    return out;
  }
}

/** `value` as JSON for an error message, short. */
export function show(value: unknown): string {
  const text = value === undefined ? 'missing' : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
