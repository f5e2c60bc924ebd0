/** What the report must say about the traffic generator (pure). */
import type { Row, Sample } from './aggregate.js';
import { CPU_BOUND_PCT } from '../probe/summary.js';
import type { ToolChoice } from './preflight.js';

/** A calibration: the underlay measured once more with iperf3 (and ping), next to the built-in probes. */
export interface Calibration {
  tool: string;
  tcp1_gbps: number;
  rtt_ms: number | null;
}

/** How far the built-in generator falls short of iperf3 before it says it cannot fill the pipe. */
export const FILLS_PIPE_RATIO = 0.9;

export function generatorNotes(choice: ToolChoice, rows: Row[], samples: Sample[]): string[] {
  const notes = [...choice.notes];
  if (choice.throughput !== 'builtin') return notes;
  const underlay = rows.find((r) => r.system === 'underlay');
  const calibration = samples.map((s) => s.calibration as Calibration | undefined).find((c) => c !== undefined);
  const builtinUnderlay = samples.find((s) => s.system === 'underlay' && s.rep === 1)?.tcp1_gbps ?? null;
  if (calibration && builtinUnderlay !== null) {
    const share = builtinUnderlay / calibration.tcp1_gbps;
    if (share < FILLS_PIPE_RATIO) {
      notes.push(
        `the built-in generator cannot fill the pipe: on the underlay it reached ${builtinUnderlay.toFixed(2)} Gb/s where ${calibration.tool} reached ` +
          `${calibration.tcp1_gbps.toFixed(2)} (${Math.round(share * 100)}%); rows near or above ${builtinUnderlay.toFixed(1)} Gb/s are understated`,
      );
    } else {
      notes.push(
        `the built-in generator keeps up with ${calibration.tool} on the underlay (${builtinUnderlay.toFixed(2)} vs ${calibration.tcp1_gbps.toFixed(2)} Gb/s, TCP ×1)`,
      );
    }
    if (calibration.rtt_ms !== null && underlay?.rtt_ms != null) {
      notes.push(`on the underlay the echo probe read ${underlay.rtt_ms.toFixed(3)} ms where ping read ${calibration.rtt_ms.toFixed(3)} ms`);
    }
  } else if (underlay?.tcp1_gbps != null) {
    const limited = underlay.generator_limited.includes('tcp1_gbps');
    notes.push(
      `without iperf3 to compare, the underlay's ${underlay.tcp1_gbps.toFixed(2)} Gb/s is the most the built-in generator showed${
        limited ? `, and it was CPU-bound there (≥ ${CPU_BOUND_PCT}% of a core): the generator, not the path, set that figure` : ''
      }; rows near it may be understated`,
    );
  }
  if (rows.some((r) => r.generator_limited.length > 0)) {
    notes.push(`† marks figures where a probe process used ≥ ${CPU_BOUND_PCT}% of a core: the generator's limit, maybe not the system's`);
  }
  return notes;
}
