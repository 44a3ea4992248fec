/**
 * The trainer's progress lines: JSON objects with step, epoch, loss, learning_rate and
 * eta_seconds, one a line, mixed with ordinary log output.
 */

export interface IProgressPoint {
  step: number;
  epoch?: number;
  loss?: number;
  learningRate?: number;
  etaSeconds?: number;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** One log line to a progress point, or undefined when it is not a progress line. */
export function parseProgressLine(line: string): IProgressPoint | undefined {
  const start = line.indexOf('{');
  if (start < 0) {
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(line.slice(start).trim());
  } catch {
    return undefined;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    return undefined;
  }
  const v = value as Record<string, unknown>;
  const step = num(v.step);
  if (step === undefined) {
    return undefined;
  }
  return {
    step,
    epoch: num(v.epoch),
    loss: num(v.loss),
    learningRate: num(v.learning_rate),
    etaSeconds: num(v.eta_seconds)
  };
}

/** All progress points of a chunk of log text, in order. */
export function parseProgress(text: string): IProgressPoint[] {
  const points: IProgressPoint[] = [];
  for (const line of text.split(/\r?\n/)) {
    const p = parseProgressLine(line);
    if (p) {
      points.push(p);
    }
  }
  return points;
}

/** "1h 02m", "3m 05s", "42s". */
export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined || seconds < 0) {
    return '';
  }
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) {
    return `${h}h ${String(m).padStart(2, '0')}m`;
  }
  if (m > 0) {
    return `${m}m ${String(r).padStart(2, '0')}s`;
  }
  return `${r}s`;
}

/** An SVG polyline's points for the loss curve, scaled into width x height. */
export function lossPolyline(
  points: IProgressPoint[],
  width: number,
  height: number,
  pad = 4
): string {
  const data = points.filter(p => p.loss !== undefined) as Array<IProgressPoint & { loss: number }>;
  if (data.length === 0) {
    return '';
  }
  const minX = Math.min(...data.map(p => p.step));
  const maxX = Math.max(...data.map(p => p.step));
  const minY = Math.min(...data.map(p => p.loss));
  const maxY = Math.max(...data.map(p => p.loss));
  const sx = (x: number) =>
    maxX === minX ? width / 2 : pad + ((x - minX) / (maxX - minX)) * (width - 2 * pad);
  const sy = (y: number) =>
    maxY === minY ? height / 2 : pad + (1 - (y - minY) / (maxY - minY)) * (height - 2 * pad);
  return data.map(p => `${sx(p.step).toFixed(1)},${sy(p.loss).toFixed(1)}`).join(' ');
}

/**
 * Splits a growing stream into complete lines, keeping the unfinished tail for the
 * next chunk.
 */
export class LineBuffer {
  private _tail = '';

  push(chunk: string): string[] {
    const text = this._tail + chunk;
    const lines = text.split(/\r?\n/);
    this._tail = lines.pop() ?? '';
    return lines;
  }

  flush(): string[] {
    const rest = this._tail;
    this._tail = '';
    return rest ? [rest] : [];
  }
}
