// An engine as the daemon starts one: the host side first (TUN, sockets,
// offloads: src/daemon/host-setup.ts), then the engine on what it opened.
import { setUpHost, type HostOptions } from '../../src/daemon/host-setup.js';
import { Engine, type EngineOptions } from '../../src/engine/engine.js';
import type { RouteSnapshot } from '../../src/engine/routes.js';

export function startEngine(options: HostOptions & EngineOptions, routes: RouteSnapshot): Promise<Engine> {
  return Engine.start(setUpHost(options), options, routes);
}
