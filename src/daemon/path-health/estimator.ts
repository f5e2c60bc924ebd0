/**
 * One peer's path estimate: the last round-trip time and a smoothed one (TCP's
 * SRTT, RFC 6298: each sample moves it by 1/8), the share of probes lost over
 * the last minute, when the peer last answered, and the path MTU in use.
 *
 * Loss is kept in one-second buckets over a sliding 60 s window: a fixed 60
 * pairs of counters per peer, whatever the probe rate.
 */

/** The loss window, ms. */
export const LOSS_WINDOW_MS = 60_000;
const BUCKET_MS = 1_000;
const BUCKETS = LOSS_WINDOW_MS / BUCKET_MS;
/** SRTT's gain (RFC 6298's alpha). */
export const SRTT_GAIN = 1 / 8;

export interface LossReading {
  /** Probes lost over probes resolved (answered or given up on) in the window; null with none. */
  ratio: number | null;
  /** Probes resolved in the window: how much the ratio rests on. */
  probes: number;
}

export class PathEstimate {
  /** The last round-trip time, ms. */
  rttLastMs: number | undefined;
  /** The smoothed round-trip time, ms. */
  rttSmoothedMs: number | undefined;
  /** When the peer last answered a probe, ms since the epoch. */
  lastSeen: number | undefined;
  /** The largest IP packet, in bytes, that reached the peer with DF set; undefined until measured. */
  pathMtu: number | undefined;
  readonly #sent = new Uint32Array(BUCKETS);
  readonly #lost = new Uint32Array(BUCKETS);
  /** The second each bucket holds (a bucket from an older second is stale and reused). */
  readonly #second = new Float64Array(BUCKETS).fill(-1);

  /** A probe answered in time, after `rttMs`. */
  answered(now: number, rttMs: number): void {
    this.#count(now, false);
    this.rttLastMs = rttMs;
    this.rttSmoothedMs = this.rttSmoothedMs === undefined ? rttMs : this.rttSmoothedMs + SRTT_GAIN * (rttMs - this.rttSmoothedMs);
    this.lastSeen = now;
  }

  /** A probe given up on: no answer within its timeout. */
  lost(now: number): void {
    this.#count(now, true);
  }

  loss(now: number): LossReading {
    const current = Math.floor(now / BUCKET_MS);
    let sent = 0;
    let lost = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (current - this.#second[i] >= BUCKETS) continue;
      sent += this.#sent[i];
      lost += this.#lost[i];
    }
    return { ratio: sent === 0 ? null : lost / sent, probes: sent };
  }

  #count(now: number, lost: boolean): void {
    const second = Math.floor(now / BUCKET_MS);
    const i = second % BUCKETS;
    if (this.#second[i] !== second) {
      this.#second[i] = second;
      this.#sent[i] = 0;
      this.#lost[i] = 0;
    }
    this.#sent[i]++;
    if (lost) this.#lost[i]++;
  }
}
