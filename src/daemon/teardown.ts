/**
 * What the daemon changed on the host, in order, so that a stop — or a
 * failure half-way through start-up — undoes exactly that, newest first.
 * An undo step that fails is logged and the rest still run.
 */
import type { Logger } from 'pino';

export class Teardown {
  readonly #steps: { what: string; undo: () => unknown }[] = [];

  constructor(private readonly log: Logger) {}

  push(what: string, undo: () => unknown): void {
    this.#steps.push({ what, undo });
  }

  async run(): Promise<void> {
    while (this.#steps.length > 0) {
      const { what, undo } = this.#steps.pop()!;
      try {
        await undo();
      } catch (error) {
        this.log.error({ event: 'teardown failed', what, error: (error as Error).message }, `undoing ${what} failed: ${(error as Error).message}`);
      }
    }
  }
}
