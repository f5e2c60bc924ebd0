/** A reachability matrix as text (pure): one row per sender, one column per receiver. */
import type { EchoMatrix } from './lab-probes.js';

/** Cell text: the median RTT when every request was answered, else "received/sent". */
export function matrixCell(cell: EchoMatrix['cells'][number][number]): string {
  if (cell === null) return '·';
  if (cell.received === cell.sent && cell.rtt_ms) return `${cell.rtt_ms.median.toFixed(2)} ms`;
  return `${cell.received}/${cell.sent} ✗`;
}

export function formatMatrix(matrix: EchoMatrix): string {
  const header = ['from \\ to', ...matrix.nodes];
  const rows = matrix.nodes.map((name, i) => [name, ...matrix.cells[i].map(matrixCell)]);
  const widths = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, j) => c.padEnd(widths[j]))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** Every pair answered every request. */
export function fullyReachable(matrix: EchoMatrix): boolean {
  return matrix.cells.every((row) => row.every((cell) => cell === null || (cell.sent > 0 && cell.received === cell.sent)));
}
