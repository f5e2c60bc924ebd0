/**
 * What the standalone binary (scripts/build-binary.mjs) carries inside
 * itself instead of a package folder: the version, the commit it was built
 * from, the addon and the data-plane worker's script. Its entry
 * (src/standalone/main.ts) records them here before the CLI loads; in a
 * checkout or an npm install nothing is recorded and the files are found
 * under the package root.
 */
export interface Embedded {
  version: string;
  /** The git commit the binary was built from, or null when it was built outside a checkout. */
  commit: string | null;
  /** A file holding the addon, unpacked on first use. */
  addonFile(): string;
  /** A file holding the bundled data-plane worker (src/standalone/worker-main.ts), unpacked on first use. */
  workerFile(): string;
}

let embedded: Embedded | undefined;

export function useEmbedded(value: Embedded): void {
  embedded = value;
}

/** The standalone binary's contents, or undefined when tulle runs from a package folder. */
export function standalone(): Embedded | undefined {
  return embedded;
}
