/** IPv4 address and subnet helpers for the lease pool (pure). */

export function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

export function formatIPv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function parseCidr(s: string): { address: number; prefix: number } | undefined {
  const [a, p, ...rest] = s.split('/');
  if (rest.length > 0 || p === undefined || !/^\d{1,2}$/.test(p)) return undefined;
  const address = parseIPv4(a);
  const prefix = Number(p);
  if (address === undefined || prefix > 32) return undefined;
  return { address, prefix };
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}
