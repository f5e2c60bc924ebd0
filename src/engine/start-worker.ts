import { Worker } from 'node:worker_threads';
import { standalone } from '../util/embedded.js';
import type { WorkerConfig } from './worker.js';

/** What the standalone binary's worker entry (src/standalone/worker-prelude.ts) reads besides the WorkerConfig. */
export interface StandaloneWorkerData {
  standalone: { version: string; commit: string | null; addonFile: string };
}

/** Starts a data-plane thread: worker.ts beside this module, or the script the standalone binary carries. */
export function startWorker(config: WorkerConfig): Worker {
  const embedded = standalone();
  if (embedded !== undefined) {
    const extra: StandaloneWorkerData = { standalone: { version: embedded.version, commit: embedded.commit, addonFile: embedded.addonFile() } };
    return new Worker(embedded.workerFile(), { workerData: { ...config, ...extra } });
  }
  const url = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);
  return new Worker(url, { workerData: config });
}
