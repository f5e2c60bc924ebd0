/** The etcd lease store and flannel's formats, for the daemon and tools. */
export { EtcdStore, EtcdOptionsError, ETCD_DEFAULTS, type EtcdStoreOptions } from './etcd-store.js';
export { readNetworkConfig, writeNetworkConfig, type EtcdTarget } from './network-config.js';
export {
  parseNetworkConfig,
  checkNetworkConfig,
  formatNetworkConfig,
  NetworkConfigError,
  type FlannelNetworkConfig,
  type NetworkConfigInput,
  type BackendConfig,
} from './flannel-config.js';
export { encodeLeaseValue, decodeLeaseValue, formatSubnetKey, parseSubnetKey } from './lease-value.js';
export { StoreClosedError, PermanentError, type ConnectionState } from './connection.js';
export { DEFAULT_PREFIX } from './registry.js';
export { CredentialsError, type EtcdCredentialSources } from './tls-files.js';
