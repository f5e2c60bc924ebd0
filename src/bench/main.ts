/** The bench's command-line shell for `tulle bench` (also `npm run bench`): parse, check, run, exit code. */
import { BenchUsageError, parseBenchOptions, type RawOptions } from './options.js';
import { OTHER_IDS, SYSTEM_IDS } from './systems.js';
import { BenchRefusal, runBench } from './run.js';

/** Parses, checks and runs; resolves with the exit code (2: bad options or a refusal, 1: a measurement failed). */
export async function benchMain(raw: RawOptions, command: string): Promise<number> {
  try {
    const options = parseBenchOptions(raw, SYSTEM_IDS, OTHER_IDS);
    return await runBench(options, {
      say: (line) => process.stderr.write(line + '\n'),
      print: (text) => process.stdout.write(text),
      command,
    });
  } catch (error) {
    if (error instanceof BenchUsageError) {
      process.stderr.write(`tulle bench: ${error.message} (tulle bench --help lists the options)\n`);
      return 2;
    }
    if (error instanceof BenchRefusal) {
      process.stderr.write(
        `tulle bench: will not start:\n${error.message
          .split('\n')
          .map((l) => `  - ${l}`)
          .join('\n')}\n`,
      );
      return 2;
    }
    throw error;
  }
}
