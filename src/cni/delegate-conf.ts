/**
 * The configuration the plugin hands the standard bridge plugin, made as
 * flannel's CNI plugin makes it: the delegate's keys as written, then bridge
 * with the network's name, the overlay MTU, isGateway, ipMasq when tulle does
 * not masquerade, and host-local over this host's subnet with a route to the
 * whole overlay. Unlike flannel the route names its gateway: bridge's CHECK
 * looks for the route with a gateway and fails without one. Pure.
 */
import type { HostSubnet } from './host-subnet.js';
import { isObject, type JsonObject, type NetConf } from './net-conf.js';

function has(o: JsonObject, key: string): boolean {
  return o[key] !== undefined;
}

export function delegateConf(conf: NetConf, host: HostSubnet): JsonObject {
  const d: JsonObject = { ...conf.delegate };
  d.name = conf.name;
  d.cniVersion = conf.cniVersion;
  if (!has(d, 'type')) d.type = 'bridge';
  // Whoever masquerades, only one: tulle when its ipMasq is on, else the bridge.
  if (!has(d, 'ipMasq')) d.ipMasq = !host.ipMasq;
  if (!has(d, 'mtu')) d.mtu = host.mtu;
  if (d.type === 'bridge' && !has(d, 'isGateway')) d.isGateway = true;
  const ipam: JsonObject = { ...conf.ipam };
  if (!has(ipam, 'type')) ipam.type = 'host-local';
  ipam.ranges = [[{ subnet: host.subnet, gateway: host.gateway }]];
  const routes = Array.isArray(ipam.routes) ? ipam.routes.filter(isObject) : [];
  ipam.routes = [...routes, { dst: host.network, gw: host.gateway }];
  d.ipam = ipam;
  if (conf.runtimeConfig !== undefined) d.runtimeConfig = conf.runtimeConfig;
  return d;
}
