/**
 * What an earlier run that could not clean up (kill -9, a crash, power loss)
 * left on the host, removed before this one changes anything:
 *
 *   the control socket   nobody answers on it (the host checks refused to
 *                        start if a daemon did)
 *   the masquerade table removed when this configuration has no ipMasq; with
 *                        ipMasq the start replaces it whole (masquerade.ts)
 *
 * The TUN needs nothing: tulle never makes it persistent, so the kernel
 * removes it with the last process holding it. host-gw routes are removed by
 * their protocol number when the data plane starts (host-gw.ts).
 */
import { existsSync, rmSync } from 'node:fs';
import type { Logger } from 'pino';
import { probeControl } from './control-client.js';
import { hasMasquerade, removeMasquerade, TABLE } from './masquerade.js';

export async function removeLeftovers(socket: string, ipMasq: boolean, log: Logger): Promise<void> {
  if (existsSync(socket) && !(await probeControl(socket))) {
    rmSync(socket, { force: true });
    log.info({ event: 'leftover removed', what: 'control socket', path: socket }, `removed the control socket ${socket} an earlier run left`);
  }
  if (!hasMasquerade()) return;
  if (ipMasq) {
    log.info(
      { event: 'leftover found', what: 'masquerade table', table: `ip ${TABLE}` },
      `a masquerade table (nftables table ip ${TABLE}) an earlier run left is replaced`,
    );
  } else {
    removeMasquerade();
    log.info(
      { event: 'leftover removed', what: 'masquerade table', table: `ip ${TABLE}` },
      `removed the masquerade table (nftables table ip ${TABLE}) an earlier run left: ipMasq is off`,
    );
  }
}
