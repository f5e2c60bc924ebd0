/**
 * Reads subnet.env, waiting a bounded time when it is not there yet: a
 * container may start while tulle is still taking its lease (flannel fails at
 * once there, flannel #2232). The error names the file and how long it waited.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CNI_CODE, CniError } from './errors.js';
import { parseHostSubnet, type HostSubnet } from './host-subnet.js';

const POLL_MS = 100;

export async function readHostSubnet(file: string, waitSeconds: number, now: () => number = Date.now): Promise<HostSubnet> {
  const deadline = now() + waitSeconds * 1000;
  for (;;) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw new CniError(CNI_CODE.IO_FAILURE, `cannot read ${file}`, (error as Error).message);
      if (now() >= deadline) {
        throw new CniError(
          CNI_CODE.TRY_AGAIN_LATER,
          `${file} is missing: is tulle running on this host?`,
          `waited ${waitSeconds} s for tulle to write ${file} (its subnet.env: the host's subnet and the overlay MTU); start tulle (tulle run), or set subnetFile in the network configuration to where tulle writes it`,
        );
      }
      await sleep(POLL_MS);
      continue;
    }
    return parseHostSubnet(text, file);
  }
}
