/**
 * Lease timings of the lease replica (flannel's where it has them). They do
 * not depend on the membership preset: a lab and a LAN keep leases alike.
 */

export interface LeaseConfig {
  /** Lease time to live (flannel: 24 h), ms. */
  leaseTtlMs: number;
  /** Renew this long before the lease runs out (flannel: 1 h), ms. */
  leaseRenewBeforeMs: number;
  /** How long a released lease is remembered as released, ms. */
  releasedRetentionMs: number;
  /** How often expired leases are swept, ms. */
  leaseSweepIntervalMs: number;
}

export const LEASE: Readonly<LeaseConfig> = Object.freeze({
  leaseTtlMs: 24 * 3_600_000, // flannel: 24 h
  leaseRenewBeforeMs: 3_600_000, // flannel: 1 h
  releasedRetentionMs: 3_600_000, // 1 h
  leaseSweepIntervalMs: 10_000, // 10 s
});

const POSITIVE: (keyof LeaseConfig)[] = ['leaseTtlMs', 'releasedRetentionMs', 'leaseSweepIntervalMs'];

/** The defaults with overrides, checked: throws naming the field, the value and what is allowed. */
export function makeLeaseConfig(overrides: Partial<LeaseConfig> = {}): LeaseConfig {
  const c: LeaseConfig = { ...LEASE, ...overrides };
  for (const key of POSITIVE) {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new Error(`gossip ${key} = ${String(v)}: must be a positive number`);
  }
  if (!(c.leaseRenewBeforeMs > 0 && c.leaseRenewBeforeMs < c.leaseTtlMs))
    throw new Error(`gossip leaseRenewBeforeMs = ${c.leaseRenewBeforeMs}: must be in (0, leaseTtlMs = ${c.leaseTtlMs})`);
  return c;
}
