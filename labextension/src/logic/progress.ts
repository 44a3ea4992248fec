/**
 * The trainer's progress lines: JSON objects with step, max_steps, epoch, loss, learning_rate
 * and eta_seconds, one a line, mixed with ordinary log output; and what a running training shows
 * from them or from status.trainerStatus.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IStatus } from '../api/types';

export interface IProgressPoint {
  step: number;
  maxSteps?: number;
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
    maxSteps: num(v.max_steps),
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

export type ITrainerStatus = NonNullable<IStatus['trainerStatus']>;

/** A running training's progress bar: what it fills and what its label says. */
export interface ITrainingProgress {
  /** 0-100, or undefined when the total is not known. */
  percent?: number;
  step?: number;
  totalSteps?: number;
  loss?: number;
  etaSeconds?: number;
}

/**
 * The progress of a training: status.trainerStatus (the reconcile flow's reading of the
 * trainer's progress lines) when it has one, else the last of the progress lines of the log;
 * undefined when neither says anything.
 */
export function trainingProgress(
  trainer: ITrainerStatus | undefined,
  points: IProgressPoint[]
): ITrainingProgress | undefined {
  if (trainer && (trainer.currentStep !== undefined || trainer.progressPercentage !== undefined)) {
    const { currentStep: step, totalSteps } = trainer;
    const percent =
      trainer.progressPercentage ??
      (step !== undefined && totalSteps ? Math.round((100 * step) / totalSteps) : undefined);
    return {
      percent,
      step,
      totalSteps,
      loss: trainer.loss,
      etaSeconds: trainer.estimatedRemainingSeconds
    };
  }
  const last = points[points.length - 1];
  if (!last) {
    return undefined;
  }
  const loss = [...points].reverse().find(p => p.loss !== undefined)?.loss;
  return {
    percent: last.maxSteps ? Math.round((100 * last.step) / last.maxSteps) : undefined,
    step: last.step,
    totalSteps: last.maxSteps,
    loss,
    etaSeconds: last.etaSeconds
  };
}

/** "42% · step 5/12 · loss 1.2345 · ETA 35s", the parts that are known. */
export function progressLabel(progress: ITrainingProgress, trans: TranslationBundle): string {
  const parts: string[] = [];
  if (progress.percent !== undefined) {
    parts.push(trans.__('%1%', progress.percent));
  }
  if (progress.step !== undefined) {
    parts.push(
      progress.totalSteps
        ? trans.__('step %1/%2', progress.step, progress.totalSteps)
        : trans.__('step %1', progress.step)
    );
  }
  if (progress.loss !== undefined) {
    parts.push(trans.__('loss %1', progress.loss.toFixed(4)));
  }
  if (progress.etaSeconds !== undefined) {
    parts.push(trans.__('ETA %1', formatEta(progress.etaSeconds)));
  }
  return parts.join(' · ');
}

/** One curve of a loss chart: a run's name and its (step, loss) points. */
export interface ILossSeries {
  name: string;
  points: Array<{ step: number; loss: number }>;
}

/** The (step, loss) points of a run's progress lines. */
export function lossPoints(points: IProgressPoint[]): ILossSeries['points'] {
  return points.flatMap(p => (p.loss === undefined ? [] : [{ step: p.step, loss: p.loss }]));
}

/** "Nice" tick values (1, 2 or 5 times a power of ten apart) covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    return [];
  }
  if (max === min) {
    return [min];
  }
  const raw = (max - min) / Math.max(1, count - 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map(m => m * power).find(s => s >= raw) ?? 10 * power;
  const ticks: number[] = [];
  const first = Math.floor(min / step);
  const last = Math.ceil(max / step);
  for (let i = first; i <= last; i++) {
    ticks.push(Number((i * step).toPrecision(12)));
  }
  return ticks;
}

/** Where a chart's plot area lies in its SVG and how steps and losses map into it. */
export interface IChartGeometry {
  x: (step: number) => number;
  y: (loss: number) => number;
  /** The step under a horizontal position (the inverse of x). */
  stepAt: (px: number) => number;
  xTicks: number[];
  yTicks: number[];
}

/** The chart's scales over every series: steps left to right, loss bottom (low) to top. */
export function chartGeometry(
  series: ILossSeries[],
  area: { left: number; top: number; width: number; height: number }
): IChartGeometry {
  const all = series.flatMap(s => s.points);
  const steps = all.map(p => p.step);
  const losses = all.map(p => p.loss);
  const xTicks = niceTicks(Math.min(...steps), Math.max(...steps));
  const yTicks = niceTicks(Math.min(...losses), Math.max(...losses));
  const span = (ticks: number[]) => [ticks[0] ?? 0, ticks[ticks.length - 1] ?? 1] as const;
  const [x0, x1] = span(xTicks);
  const [y0, y1] = span(yTicks);
  return {
    x: step =>
      x1 === x0 ? area.left + area.width / 2 : area.left + ((step - x0) / (x1 - x0)) * area.width,
    y: loss =>
      y1 === y0
        ? area.top + area.height / 2
        : area.top + (1 - (loss - y0) / (y1 - y0)) * area.height,
    stepAt: px => (x1 === x0 ? x0 : x0 + ((px - area.left) / area.width) * (x1 - x0)),
    xTicks,
    yTicks
  };
}

/** The point of a series nearest to a step (for the chart's hover read-out). */
export function nearestPoint(
  points: ILossSeries['points'],
  step: number
): ILossSeries['points'][number] | undefined {
  let best: ILossSeries['points'][number] | undefined;
  for (const p of points) {
    if (!best || Math.abs(p.step - step) < Math.abs(best.step - step)) {
      best = p;
    }
  }
  return best;
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
