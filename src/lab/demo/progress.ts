/**
 * The demo's progress display: one line per step, "[2/6] title … 1.4 s".
 * On a terminal a spinner turns on the current line and the step may show
 * what it is waiting for; elsewhere (a pipe, CI) each step prints once when
 * it ends, so logs stay readable.
 */
const SPIN = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export interface Output {
  write(text: string): void;
  isTTY?: boolean;
}

export class Progress {
  private readonly t0 = Date.now();
  private index = 0;
  private title = '';
  private detail = '';
  private stepStart = 0;
  private timer: NodeJS.Timeout | undefined;
  private frame = 0;

  constructor(
    private readonly total: number,
    private readonly out: Output = process.stdout,
  ) {}

  /** Seconds since the demo started, one decimal. */
  elapsed(): string {
    return `${((Date.now() - this.t0) / 1000).toFixed(1)} s`;
  }

  start(title: string): void {
    this.index++;
    this.title = title;
    this.detail = '';
    this.stepStart = Date.now();
    if (this.out.isTTY) {
      this.timer = setInterval(() => this.draw(), 100);
      this.timer.unref();
      this.draw();
    }
  }

  /** What the step is doing now (shown on a terminal only). */
  update(detail: string): void {
    this.detail = detail;
  }

  /** Ends the step with a short result. */
  done(result = 'done'): void {
    this.finish(`✓ ${result}`);
  }

  fail(reason: string): void {
    this.finish(`✗ ${reason}`);
  }

  /** A line of text under the current step (tables, notes). */
  print(text: string): void {
    if (this.out.isTTY) this.out.write('\r\x1b[2K');
    this.out.write(text.endsWith('\n') ? text : `${text}\n`);
    if (this.timer) this.draw();
  }

  private head(): string {
    return `[${this.index}/${this.total}] ${this.title}`;
  }

  private draw(): void {
    const seconds = ((Date.now() - this.stepStart) / 1000).toFixed(1);
    const detail = this.detail ? ` … ${this.detail}` : ' …';
    this.out.write(`\r\x1b[2K${SPIN[this.frame++ % SPIN.length]} ${this.head()}${detail} (${seconds} s)`);
  }

  private finish(result: string): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const seconds = ((Date.now() - this.stepStart) / 1000).toFixed(1);
    if (this.out.isTTY) this.out.write('\r\x1b[2K');
    this.out.write(`${this.head()} ${result} (${seconds} s, at ${this.elapsed()})\n`);
  }
}
