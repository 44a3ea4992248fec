import {
  formatEta,
  LineBuffer,
  lossPolyline,
  parseProgress,
  parseProgressLine
} from '../src/logic/progress';

describe('parseProgressLine', () => {
  it('reads a trainer progress line', () => {
    expect(
      parseProgressLine(
        '{"step": 10, "epoch": 0.5, "loss": 2.31, "learning_rate": 0.0002, "eta_seconds": 42}'
      )
    ).toEqual({ step: 10, epoch: 0.5, loss: 2.31, learningRate: 0.0002, etaSeconds: 42 });
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

describe('lossPolyline', () => {
  it('scales the highest loss to the top and the lowest to the bottom', () => {
    const pts = lossPolyline(
      [{ step: 0, loss: 4 }, { step: 5 }, { step: 10, loss: 2 }],
      100,
      50,
      0
    );
    expect(pts).toBe('0.0,0.0 100.0,50.0');
  });

  it('draws a single point in the middle and nothing without losses', () => {
    expect(lossPolyline([{ step: 1, loss: 1 }], 100, 50)).toBe('50.0,25.0');
    expect(lossPolyline([{ step: 1 }], 100, 50)).toBe('');
  });
});
