/**
 * The daemon's log: pino JSON lines on stderr, one per event (start, stop,
 * lease added or removed, route added or removed, a lease not routed and
 * why), never one per packet. Written synchronously so the last lines before
 * an exit are not lost.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd: 2, sync: true }));
}
