/**
 * CNI errors: what a plugin prints on stdout when it fails (spec 1.0.0,
 * "Error"): a code, a short message and details, with a non-zero exit. Codes
 * below 100 are the spec's; 100 and up are tulle's own.
 */
export const CNI_CODE = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENVIRONMENT: 4,
  IO_FAILURE: 5,
  DECODE_FAILURE: 6,
  INVALID_NETWORK_CONFIG: 7,
  TRY_AGAIN_LATER: 11,
  /** tulle's: subnet.env is there but does not say what the plugin needs. */
  BAD_SUBNET_ENV: 100,
  /** tulle's: a delegated plugin (bridge, host-local) failed without an error of its own. */
  DELEGATE_FAILED: 101,
} as const;

export class CniError extends Error {
  constructor(
    readonly code: number,
    msg: string,
    readonly details = '',
  ) {
    super(msg);
    this.name = 'CniError';
  }

  /** The JSON the runtime reads from stdout. */
  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    return { cniVersion, code: this.code, msg: this.message, ...(this.details !== '' ? { details: this.details } : {}) };
  }
}
