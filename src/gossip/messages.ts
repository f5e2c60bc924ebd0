/** Message types (the envelope's type byte) and the bodies that need more than a field or two. */
import type { ByteReader, ByteWriter } from './bytes.js';
import { SUBS, TOPS } from './digest.js';

export const MSG = {
  /** u32 probe seq, str target id, u32 delegate summary */
  ping: 1,
  /** u32 probe seq, str target id, str target address */
  pingReq: 2,
  /** u32 probe seq, u32 delegate summary */
  ack: 3,
  /** u32 probe seq: "I asked, the target did not answer me either" (Lifeguard) */
  nack: 4,
  /** records only */
  gossip: 5,
  /** u8 flags, TOPS × u32: top-level digest */
  syncTop: 6,
  /** u8 n, n × (u8 top, SUBS × u32): sub-bucket hashes of differing tops */
  syncSub: 7,
  /** u8 n, n × (u8 top, u32 mask of differing sub-buckets): "send me these" */
  syncWant: 8,
  /** u8 agree (1: our digests agree), u32 lease fingerprint: the answer to a joining node */
  syncDone: 9,
  /** records only, not counted as broadcasts */
  records: 10,
} as const;

export const SYNC_JOIN = 1;

export function writeTops(w: ByteWriter, flags: number, top: Uint32Array): void {
  w.u8(flags);
  for (let i = 0; i < TOPS; i++) w.u32(top[i]);
}

export function readTops(r: ByteReader, into: Uint32Array): number {
  const flags = r.u8();
  for (let i = 0; i < TOPS; i++) into[i] = r.u32();
  return flags;
}

/** Bytes one top's sub-hashes take in a syncSub body. */
export const SUB_ENTRY_BYTES = 1 + 4 * SUBS;
