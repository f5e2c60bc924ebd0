/**
 * tulle's systemd unit (docs/cli.md#systemd). Type=notify: systemd counts the
 * service started when the daemon says READY=1, which it does once the TUN,
 * the routes and subnet.env are in place (src/daemon/systemd-notify.ts), so
 * units ordered after it (Docker, a CNI) find them.
 */

export const DEFAULT_UNIT_PATH = '/etc/systemd/system/tulle.service';
export const DEFAULT_CONFIG_PATH = '/etc/tulle/tulle.yaml';

/** One ExecStart word, quoted as systemd reads it when it holds a space or a quote. */
function execWord(word: string): string {
  return /[\s"'\\]/.test(word) ? `"${word.replace(/(["\\])/g, '\\$1')}"` : word;
}

/** `command`: how to start tulle here (node and the CLI's file, or a standalone binary). */
export function serviceUnit(command: readonly string[], configFile: string): string {
  const exec = [...command, 'run', '-c', configFile].map(execWord).join(' ');
  return `# tulle: a userspace overlay network. Written by \`tulle install-service\`; docs/cli.md describes it.
[Unit]
Description=tulle overlay network
Wants=network-online.target
After=network-online.target
# Docker reads subnet.env and the Docker options: tulle is ready only once they are written.
Before=docker.service

[Service]
# READY=1 once the TUN, the routes and subnet.env are in place; RELOADING=1 and READY=1 around a reload.
Type=notify
NotifyAccess=main
ExecStart=${exec}
# SIGHUP reloads the static peers, the gossip keyring, the etcd credentials and the log level, and puts back subnet.env and the masquerade table.
ExecReload=/bin/kill -HUP $MAINPID
# SIGTERM to tulle alone: it undoes what it set up, running ip and nft, which must not be signalled too.
KillMode=mixed
TimeoutStopSec=30s
Restart=on-failure
RestartSec=5s
# 2: the configuration is invalid; 4: no privileges. A restart would fail the same way.
RestartPreventExitStatus=2 4

[Install]
WantedBy=multi-user.target
`;
}
