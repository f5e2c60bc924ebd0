/**
 * How the data plane reports the rare event worth a line (an offload the
 * kernel refused, turned off): never per packet. A worker thread writes
 * pino-shaped JSON lines to stderr, as the daemon's own log does
 * (src/daemon/logger.ts), synchronously so none are lost at exit.
 */
import { writeSync } from 'node:fs';

export type LogLevel = 'info' | 'warn' | 'error';
export type Log = (level: LogLevel, msg: string) => void;

const PINO_LEVEL: Record<LogLevel, number> = { info: 30, warn: 40, error: 50 };

export function stderrLog(fields: Record<string, unknown>): Log {
  return (level, msg) => {
    writeSync(2, JSON.stringify({ level: PINO_LEVEL[level], time: new Date().toISOString(), pid: process.pid, ...fields, msg }) + '\n');
  };
}
