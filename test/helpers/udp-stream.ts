// A paced UDP stream across the overlay (traffic.ts udp-stream-send/-recv in lab namespaces), and what a fault
// test asks of it: which datagrams were lost and when they were sent, the longest silence, and when the
// stream came back after a given moment. Times are wall-clock ms; every namespace shares the kernel's clock.
import type { Lab } from '../../src/lab/netns.js';
import { trafficTools } from './tools.js';

export interface StreamReport {
  sent: number;
  /** Send time of each sequence number. */
  sentAt: number[];
  /** Per sequence number received: its arrival time (undefined when lost). Duplicates are counted apart. */
  arrivedAt: (number | undefined)[];
  duplicates: number;
  /** Datagrams on the port that were not the stream's. */
  foreign: number;
}

export interface StreamPlan {
  fromNs: string;
  toNs: string;
  /** The receiver's overlay address. */
  address: string;
  port: number;
  perSecond: number;
  /** The longest it may run (it runs until stopped): a bound, so a test that fails to stop it still ends. */
  maxSeconds: number;
}

/** Time the receiver keeps listening after the sender has stopped, for what is still on its way. */
const LINGER_MS = 1_000;

/**
 * Starts the receiver, then the sender; resolves once the sender sends (starting node can take seconds on a
 * loaded machine), so a test times its faults from then. `stop()` ends the sender, then (1 s later) the
 * receiver, and resolves with what each saw.
 */
export async function udpStream(lab: Lab, plan: StreamPlan): Promise<{ stop(): Promise<StreamReport> }> {
  const tools = trafficTools(lab);
  const bound = (plan.maxSeconds + 60) * 1000;
  const receiver = tools.spawn(plan.toNs, 'udp-stream-recv', plan.address, String(plan.port), String(bound / 1000));
  const receiverOut = tools.output(receiver, 'udp-stream-recv', bound);
  receiverOut.catch(() => {}); // seen through stop()
  await tools.ready(receiver);
  const sender = tools.spawn(plan.fromNs, 'udp-stream-send', plan.address, String(plan.port), String(plan.perSecond), String(plan.maxSeconds));
  const senderOut = tools.output(sender, 'udp-stream-send', bound);
  senderOut.catch(() => {});
  void senderOut.then(
    () => setTimeout(() => receiver.stdin!.end(), LINGER_MS),
    () => receiver.stdin!.end(),
  );
  const done = Promise.all([senderOut, receiverOut]).then(([s, r]) => {
    const { sent, sentAt } = tools.lastLine(s) as { sent: number; sentAt: number[] };
    const { received, foreign } = tools.lastLine(r) as { received: [number, number, number][]; foreign: number };
    const arrivedAt: (number | undefined)[] = new Array<number | undefined>(sent).fill(undefined);
    let duplicates = 0;
    for (const [seq, , at] of received) {
      if (arrivedAt[seq] !== undefined) duplicates++;
      else arrivedAt[seq] = at;
    }
    return { sent, sentAt, arrivedAt, duplicates, foreign };
  });
  await tools.ready(sender);
  return {
    stop() {
      sender.stdin!.end();
      return done;
    },
  };
}

export function received(r: StreamReport): number {
  return r.arrivedAt.filter((a) => a !== undefined).length;
}

/** Sequence numbers lost among those sent in [from, to] (all when no bounds). */
export function lostBetween(r: StreamReport, from = -Infinity, to = Infinity): number[] {
  const lost: number[] = [];
  r.sentAt.forEach((at, seq) => {
    if (at >= from && at <= to && r.arrivedAt[seq] === undefined) lost.push(seq);
  });
  return lost;
}

/** The first arrival at or after `t` of a datagram sent at or after `t`: when the stream came back. */
export function firstArrivalAfter(r: StreamReport, t: number): number | undefined {
  for (let seq = 0; seq < r.sent; seq++) {
    const at = r.arrivedAt[seq];
    if (r.sentAt[seq] >= t && at !== undefined) return at;
  }
  return undefined;
}

/** The longest time between two consecutive arrivals (ms), and when it began. */
export function longestSilence(r: StreamReport): { ms: number; from: number } {
  const times = r.arrivedAt.filter((a): a is number => a !== undefined).sort((a, b) => a - b);
  let best = { ms: 0, from: times[0] ?? 0 };
  for (let i = 1; i < times.length; i++) if (times[i] - times[i - 1] > best.ms) best = { ms: times[i] - times[i - 1], from: times[i - 1] };
  return best;
}

/** One line for a test's comment: sent, received, lost, duplicates, the longest silence. */
export function describeStream(r: StreamReport): string {
  const silence = longestSilence(r);
  return `${r.sent} sent, ${received(r)} received, ${lostBetween(r).length} lost, ${r.duplicates} duplicates, ${r.foreign} foreign; longest silence ${silence.ms.toFixed(0)} ms`;
}
