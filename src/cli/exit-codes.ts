/** Exit codes of every `tulle` command; scripts may rely on them (docs/cli.md). */
export const EXIT = {
  /** Done, or stopped cleanly by SIGTERM/SIGINT. */
  OK: 0,
  /** Something failed at run time: the host set-up, the store, the data plane, the daemon's answer. */
  FAILURE: 1,
  /** The configuration or the command line is invalid; nothing was changed. */
  INVALID: 2,
  /** status, leases: no daemon is running with that state dir. */
  NOT_RUNNING: 3,
  /** The command needs root (run: CAP_NET_ADMIN) and does not have it; nothing was changed. */
  NOT_ROOT: 4,
  /** run, demo, bench, lab wire-demo: the native addon is not built; the message names what building it needs. */
  NO_ADDON: 5,
  /** demo --runtime podman: a program it needs is not installed; the message names the Debian packages. Nothing was changed. */
  MISSING_TOOLS: 6,
} as const;
