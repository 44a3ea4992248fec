import {
  formatEta,
  chartGeometry,
  LineBuffer,
  lossPoints,
  nearestPoint,
  niceTicks,
  parseProgress,
  parseProgressLine,
  progressLabel,
  trainingProgress
} from '../src/logic/progress';
import { trans } from './fixtures';

describe('parseProgressLine', () => {
  it('reads a trainer progress line', () => {
    expect(
      parseProgressLine(
        '{"step": 10, "epoch": 0.5, "loss": 2.31, "learning_rate": 0.0002, "eta_seconds": 42}'
      )
    ).toMatchObject({ step: 10, epoch: 0.5, loss: 2.31, learningRate: 0.0002, etaSeconds: 42 });
  });

  it('reads a progress line behind a log prefix', () => {
    expect(parseProgressLine('2026-11-22T12:00:00Z INFO {"step": 3, "loss": 1.5}')).toMatchObject({
      step: 3,
      loss: 1.5
    });
  });

  it('ignores ordinary log lines and JSON without a step', () => {
    expect(parseProgressLine('Loading checkpoint shards')).toBeUndefined();
    expect(parseProgressLine('{"event": "start"}')).toBeUndefined();
    expect(parseProgressLine('{"step": "ten"}')).toBeUndefined();
    expect(parseProgressLine('{broken')).toBeUndefined();
    expect(parseProgressLine('[1, 2]')).toBeUndefined();
  });

  it('parses the progress points of a chunk in order', () => {
    const text = 'start\n{"step":1,"loss":3}\r\nnoise\n{"step":2,"loss":2.5}\n';
    expect(parseProgress(text).map(p => p.step)).toEqual([1, 2]);
  });
});

describe('LineBuffer', () => {
  it('keeps a partial line for the next chunk', () => {
    const b = new LineBuffer();
    expect(b.push('{"step": 1, "lo')).toEqual([]);
    expect(b.push('ss": 2}\nnext')).toEqual(['{"step": 1, "loss": 2}']);
    expect(b.flush()).toEqual(['next']);
    expect(b.flush()).toEqual([]);
  });
});

describe('formatEta', () => {
  it('formats seconds for people', () => {
    expect(formatEta(42)).toBe('42s');
    expect(formatEta(185)).toBe('3m 05s');
    expect(formatEta(3720)).toBe('1h 02m');
    expect(formatEta(undefined)).toBe('');
  });
});

describe('trainingProgress', () => {
  it('reads status.trainerStatus first', () => {
    expect(
      trainingProgress(
        {
          currentStep: 30,
          totalSteps: 120,
          loss: 1.25,
          progressPercentage: 25,
          estimatedRemainingSeconds: 90
        },
        [{ step: 2, maxSteps: 10, loss: 3 }]
      )
    ).toEqual({ percent: 25, step: 30, totalSteps: 120, loss: 1.25, etaSeconds: 90 });
  });

  it('works the percentage out of the steps when the status has none', () => {
    expect(trainingProgress({ currentStep: 1, totalSteps: 3 }, [])?.percent).toBe(33);
  });

  it('falls back to the last progress line of the log', () => {
    expect(
      trainingProgress(undefined, [
        { step: 1, maxSteps: 4, loss: 2, etaSeconds: 30 },
        { step: 2, maxSteps: 4, etaSeconds: 20 }
      ])
    ).toEqual({ percent: 50, step: 2, totalSteps: 4, loss: 2, etaSeconds: 20 });
    expect(trainingProgress({}, [{ step: 3 }])).toEqual({
      percent: undefined,
      step: 3,
      totalSteps: undefined,
      loss: undefined,
      etaSeconds: undefined
    });
  });

  it('says nothing without a status or progress lines', () => {
    expect(trainingProgress(undefined, [])).toBeUndefined();
  });
});

describe('progressLabel', () => {
  it('names what is known', () => {
    expect(
      progressLabel({ percent: 42, step: 5, totalSteps: 12, loss: 1.23456, etaSeconds: 35 }, trans)
    ).toBe('42% · step 5/12 · loss 1.2346 · ETA 35s');
    expect(progressLabel({ step: 3 }, trans)).toBe('step 3');
  });
});

describe('loss chart geometry', () => {
  it('keeps the points with a loss', () => {
    expect(lossPoints([{ step: 1, loss: 2 }, { step: 2 }])).toEqual([{ step: 1, loss: 2 }]);
  });

  it('picks round ticks that cover the range', () => {
    expect(niceTicks(0, 10)).toEqual([0, 5, 10]);
    expect(niceTicks(0, 12)).toEqual([0, 5, 10, 15]);
    expect(niceTicks(0.33, 2.4)).toEqual([0, 1, 2, 3]);
    expect(niceTicks(0.42, 0.61)).toEqual([0.4, 0.45, 0.5, 0.55, 0.6, 0.65]);
    expect(niceTicks(3, 3)).toEqual([3]);
    expect(niceTicks(Infinity, -Infinity)).toEqual([]);
  });

  it('maps the lowest tick to the bottom-left and the highest to the top-right', () => {
    const g = chartGeometry(
      [
        { name: 'a', points: [{ step: 0, loss: 4 }] },
        { name: 'b', points: [{ step: 10, loss: 2 }] }
      ],
      { left: 10, top: 5, width: 100, height: 50 }
    );
    expect(g.xTicks[0]).toBe(0);
    expect(g.x(0)).toBe(10);
    expect(g.x(10)).toBe(110);
    expect(g.y(2)).toBe(55);
    expect(g.y(4)).toBe(5);
    expect(g.stepAt(60)).toBe(5);
  });

  it('finds the point nearest a step', () => {
    const pts = [
      { step: 1, loss: 3 },
      { step: 5, loss: 2 },
      { step: 9, loss: 1 }
    ];
    expect(nearestPoint(pts, 6)).toEqual({ step: 5, loss: 2 });
    expect(nearestPoint([], 6)).toBeUndefined();
  });
});
