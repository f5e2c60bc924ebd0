/**
 * The network configuration a runtime hands the plugin on stdin: flannel's
 * keys (subnetFile, dataDir, delegate, ipam), so a flannel conflist works with
 * only its `type` changed, plus tulle's subnetFileWaitSeconds. Pure.
 */
import { CNI_CODE, CniError } from './errors.js';
import { requireSupported } from './versions.js';

export const DEFAULT_SUBNET_FILE = '/run/tulle/subnet.env';
/** What DEL needs per container, as flannel keeps it in /var/lib/cni/flannel. */
export const DEFAULT_DATA_DIR = '/var/lib/cni/tulle';
/** How long ADD waits for subnet.env while tulle is still starting (flannel fails at once: flannel #2232). */
export const DEFAULT_SUBNET_FILE_WAIT_SECONDS = 10;
export const MAX_SUBNET_FILE_WAIT_SECONDS = 300;

export type JsonObject = Record<string, unknown>;

export interface NetConf {
  cniVersion: string;
  name: string;
  type: string;
  subnetFile: string;
  dataDir: string;
  subnetFileWaitSeconds: number;
  /** The delegated plugin's configuration as written (flannel's `delegate`); empty when absent. */
  delegate: JsonObject;
  /** IPAM settings merged into host-local's (flannel's `ipam`); empty when absent. */
  ipam: JsonObject;
  /** The runtime's prevResult (DEL and CHECK), passed on to the delegate. */
  prevResult?: JsonObject;
  /** Runtime options (capabilities) passed on to the delegate. */
  runtimeConfig?: JsonObject;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(field: string, value: unknown, allowed: string): CniError {
  return new CniError(CNI_CODE.INVALID_NETWORK_CONFIG, `invalid network configuration: ${field}`, `${field} is ${JSON.stringify(value)}; ${allowed}`);
}

function text(conf: JsonObject, field: string, fallback?: string): string {
  const value = conf[field];
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string' || value === '') throw invalid(field, value, 'it must be a non-empty string');
  return value;
}

function object(conf: JsonObject, field: string): JsonObject {
  const value = conf[field];
  if (value === undefined) return {};
  if (!isObject(value)) throw invalid(field, value, 'it must be a JSON object');
  return value;
}

/** Parses stdin; throws CniError naming what is missing or wrong. */
export function parseNetConf(stdin: string): NetConf {
  if (stdin.trim() === '') {
    throw new CniError(CNI_CODE.DECODE_FAILURE, 'no network configuration on stdin', 'the runtime must write the network configuration (JSON) to stdin');
  }
  let conf: unknown;
  try {
    conf = JSON.parse(stdin);
  } catch (error) {
    throw new CniError(CNI_CODE.DECODE_FAILURE, 'the network configuration on stdin is not JSON', (error as Error).message);
  }
  if (!isObject(conf)) throw new CniError(CNI_CODE.DECODE_FAILURE, 'the network configuration on stdin is not a JSON object', `got ${JSON.stringify(conf)}`);
  const cniVersion = text(conf, 'cniVersion');
  requireSupported(cniVersion, 'the network configuration');
  const wait = conf.subnetFileWaitSeconds ?? DEFAULT_SUBNET_FILE_WAIT_SECONDS;
  if (typeof wait !== 'number' || !Number.isFinite(wait) || wait < 0 || wait > MAX_SUBNET_FILE_WAIT_SECONDS) {
    throw invalid('subnetFileWaitSeconds', wait, `it must be a number of seconds from 0 to ${MAX_SUBNET_FILE_WAIT_SECONDS}`);
  }
  const delegate = object(conf, 'delegate');
  if (delegate.type !== undefined && (typeof delegate.type !== 'string' || delegate.type === '')) {
    throw invalid('delegate.type', delegate.type, 'it must name a plugin (default "bridge")');
  }
  const prevResult = conf.prevResult;
  if (prevResult !== undefined && !isObject(prevResult)) throw invalid('prevResult', prevResult, 'it must be a JSON object');
  const runtimeConfig = conf.runtimeConfig;
  if (runtimeConfig !== undefined && !isObject(runtimeConfig)) throw invalid('runtimeConfig', runtimeConfig, 'it must be a JSON object');
  return {
    cniVersion,
    name: text(conf, 'name'),
    type: text(conf, 'type'),
    subnetFile: text(conf, 'subnetFile', DEFAULT_SUBNET_FILE),
    dataDir: text(conf, 'dataDir', DEFAULT_DATA_DIR),
    subnetFileWaitSeconds: wait,
    delegate,
    ipam: object(conf, 'ipam'),
    ...(prevResult !== undefined ? { prevResult } : {}),
    ...(runtimeConfig !== undefined ? { runtimeConfig } : {}),
  };
}
