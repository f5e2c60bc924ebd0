/** The answer the data-plane commands give when the native addon is not built, before anything on the host changes. */
import { addonBuilt, addonMissingMessage } from '../native/load.js';
import { EXIT } from './exit-codes.js';

/** For run, demo, bench and lab wire-demo: without the addon they cannot run; the message says how to get it (exit NO_ADDON). */
export function requireAddon(): void {
  if (addonBuilt()) return;
  console.error(addonMissingMessage());
  process.exit(EXIT.NO_ADDON);
}
