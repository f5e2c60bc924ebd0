/**
 * A V8 heap snapshot read down to what the soak needs (pure): the live heap
 * (the sum of the self sizes of the nodes in V8's heap: the snapshot is taken
 * after a full collection, so no garbage is left in it) and counts and sizes by
 * constructor, and the comparison of two such summaries.
 */

export interface ConstructorFigure {
  count: number;
  bytes: number;
}

export interface HeapSummary {
  /** Sum of the self sizes of the nodes in V8's heap: the live heap. */
  liveBytes: number;
  /**
   * Sum of the self sizes of the `native` nodes: memory outside V8's heap that the snapshot reports
   * (array buffers' backing stores, Node's handles), not part of the heap used figure.
   */
  nativeBytes: number;
  nodes: number;
  /** By constructor name for objects, by `(type)` for the rest (strings, code, arrays, closures...). */
  byConstructor: Record<string, ConstructorFigure>;
}

interface SnapshotJson {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** What a .heapsnapshot's text holds, summed; throws naming what is missing if it is not one. */
export function summarizeSnapshot(text: string): HeapSummary {
  const s = JSON.parse(text) as SnapshotJson;
  const meta = s.snapshot?.meta;
  if (!meta || !Array.isArray(s.nodes) || !Array.isArray(s.strings)) throw new Error('not a V8 heap snapshot: no snapshot.meta, nodes or strings');
  const width = meta.node_fields.length;
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => meta.node_fields.indexOf(f));
  if (typeAt < 0 || nameAt < 0 || sizeAt < 0)
    throw new Error(`a heap snapshot's node_fields must include type, name and self_size, got ${meta.node_fields.join(', ')}`);
  const types = meta.node_types[0];
  const byConstructor: Record<string, ConstructorFigure> = {};
  let liveBytes = 0;
  let nativeBytes = 0;
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + typeAt]];
    const size = s.nodes[i + sizeAt];
    // Objects and native (embedder) nodes are named after what made them; other names are a string's text or a function's name.
    const key = type === 'object' || type === 'native' ? s.strings[s.nodes[i + nameAt]] : `(${type})`;
    const f = (byConstructor[key] ??= { count: 0, bytes: 0 });
    f.count++;
    f.bytes += size;
    if (type === 'native') nativeBytes += size;
    else liveBytes += size;
  }
  return { liveBytes, nativeBytes, nodes: s.nodes.length / width, byConstructor };
}

export interface ConstructorChange {
  name: string;
  count: number;
  bytes: number;
}

/** The constructors whose self size grew most from `a` to `b`, largest first (at most `top`). */
export function heapGrowth(a: HeapSummary, b: HeapSummary, top = 10): ConstructorChange[] {
  const names = new Set([...Object.keys(a.byConstructor), ...Object.keys(b.byConstructor)]);
  const zero = { count: 0, bytes: 0 };
  return [...names]
    .map((name) => {
      const x = a.byConstructor[name] ?? zero;
      const y = b.byConstructor[name] ?? zero;
      return { name, count: y.count - x.count, bytes: y.bytes - x.bytes };
    })
    .filter((c) => c.bytes > 0)
    .sort((p, q) => q.bytes - p.bytes)
    .slice(0, top);
}
