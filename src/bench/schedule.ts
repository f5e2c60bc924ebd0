/** The order of a run (pure): every repetition visits every system before the next begins. */

export interface Slot<T> {
  system: T;
  /** 1-based. */
  rep: number;
  /** 0-based position in the whole run. */
  index: number;
}

/**
 * Round-robin: rep 1 of every system, then rep 2 of every system, … so a
 * machine that gets busier or quieter during a run touches all rows alike.
 */
export function roundRobin<T>(systems: readonly T[], reps: number): Slot<T>[] {
  const out: Slot<T>[] = [];
  for (let rep = 1; rep <= reps; rep++) {
    for (const system of systems) out.push({ system, rep, index: out.length });
  }
  return out;
}
