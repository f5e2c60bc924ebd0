/** The CNI spec versions the plugin speaks: those bridge and host-local (containernetworking-plugins 1.x) speak too. */
import { CNI_CODE, CniError } from './errors.js';

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] as const;
export const LATEST_VERSION = '1.0.0';

/** CHECK came with spec 0.4.0. */
export const CHECK_SINCE = '0.4.0';

export function requireSupported(version: string, where: string): void {
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(version)) {
    throw new CniError(
      CNI_CODE.INCOMPATIBLE_VERSION,
      `unsupported cniVersion "${version}"`,
      `${where}: cniVersion must be one of ${SUPPORTED_VERSIONS.join(', ')}`,
    );
  }
}

/** -1, 0, 1 as a is older, the same, newer than b (both supported versions). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] < pb[i] ? -1 : 1;
  return 0;
}

/** The VERSION command's answer. */
export function versionAnswer(requested: string | undefined): { cniVersion: string; supportedVersions: string[] } {
  const cniVersion = requested !== undefined && (SUPPORTED_VERSIONS as readonly string[]).includes(requested) ? requested : LATEST_VERSION;
  return { cniVersion, supportedVersions: [...SUPPORTED_VERSIONS] };
}
