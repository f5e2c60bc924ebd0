/**
 * Runs first in a data-plane thread of the standalone binary: records where
 * the main thread unpacked the addon (start-worker.ts passes it), so the
 * worker's loadNative() finds it without a package folder.
 */
import { workerData } from 'node:worker_threads';
import type { StandaloneWorkerData } from '../engine/start-worker.js';
import { useEmbedded } from '../util/embedded.js';

const given = (workerData as Partial<StandaloneWorkerData> | null)?.standalone;
if (given === undefined) throw new Error('the standalone worker was started without the addon file (workerData.standalone)');
useEmbedded({
  version: given.version,
  commit: given.commit,
  addonFile: () => given.addonFile,
  workerFile: () => {
    throw new Error('a data-plane thread starts no threads of its own');
  },
});
