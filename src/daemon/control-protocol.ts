/**
 * The control socket's protocol: JSON lines over a unix socket in the state
 * dir. A request is `{"id":1,"method":"status"}`; the answer is
 * `{"id":1,"result":…}` or `{"id":1,"error":"…"}`, one line each.
 */
export const METHODS = ['status', 'leases', 'peers'] as const;
export type Method = (typeof METHODS)[number];

export interface Request {
  id: number;
  method: Method;
}

export type Response = { id: number | null; result: unknown } | { id: number | null; error: string };

/** Longest request line accepted: requests are tiny, so anything longer is refused. */
export const MAX_LINE = 4096;

/** A request line as a Request, or a sentence saying what is wrong with it. */
export function parseRequest(line: string): Request | { id: number | null; error: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { id: null, error: 'not JSON: send {"id":1,"method":"status"}' };
  }
  if (value === null || typeof value !== 'object') return { id: null, error: 'not a JSON object: send {"id":1,"method":"status"}' };
  const { id, method } = value as { id?: unknown; method?: unknown };
  const safeId = typeof id === 'number' && Number.isSafeInteger(id) ? id : null;
  if (safeId === null) return { id: null, error: 'id: must be an integer' };
  if (typeof method !== 'string' || !(METHODS as readonly string[]).includes(method)) {
    return { id: safeId, error: `method: must be one of ${METHODS.join(', ')} (got ${JSON.stringify(method)})` };
  }
  return { id: safeId, method: method as Method };
}
