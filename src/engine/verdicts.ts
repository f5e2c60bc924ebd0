/**
 * Why a packet was dropped. Negative descriptor verdicts; -1..-5 are written
 * by the encapsulator and the native I/O calls, the rest by the engine's
 * decisions. Each has a counter. All of them are in native/src/layout.h too,
 * so no two can share a number on either side (test/native-parity.test.ts).
 */
export { VERDICT_ENCAP_FAILED } from '@tulle/wire';
export const VERDICT_SEND_FAILED = -2;
export const VERDICT_WRITE_FAILED = -3;
export const VERDICT_TRUNCATED = -4;
/** A virtio-net header the packet contradicts (bad GSO type, offsets outside the packet). */
export const VERDICT_BAD_VNET = -5;
export const DROP_NO_ROUTE = -10;
export const DROP_MALFORMED = -11;
export const DROP_UNKNOWN_SENDER = -12;
export const DROP_OVERSIZE = -13;
export const DROP_WRONG_VNI = -14;
export const DROP_NOT_OURS = -15;
export const DROP_UNKNOWN_VTEP = -16;
