/** The seam between membership and another record kind that rides on it (the lease replica). */
import type { ByteReader } from './bytes.js';

/** How a record arrived: 'join' merges are not rebroadcast (a joiner learns everything at once). */
export type Via = 'gossip' | 'sync' | 'join' | 'local';

/** Another record kind riding on the node (the lease replica). */
export interface RecordDelegate {
  readonly tag: number;
  /** Decodes one record (after its tag byte) and merges it; false when malformed. */
  merge(r: ByteReader, via: Via): boolean;
  /** Calls emit with the encoded record of every record whose digest bucket passes `wanted`. */
  recordsIn(wanted: (bucket: number) => boolean, emit: (bytes: Uint8Array) => void): void;
  /**
   * A 32-bit fingerprint of all the delegate's records. Pings and acks carry
   * it; a peer whose fingerprint differs gets a sync at once, so a table that
   * fell behind (or a healed partition) does not wait for the sync timer.
   */
  summary(): number;
}
