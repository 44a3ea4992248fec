/**
 * The training loss over steps, as a small SVG line chart in the theme's colours.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IProgressPoint, lossPolyline } from '../logic/progress';

const WIDTH = 360;
const HEIGHT = 140;

export function LossChart(props: {
  points: IProgressPoint[];
  trans: TranslationBundle;
}): JSX.Element {
  const { trans } = props;
  const withLoss = props.points.filter(p => p.loss !== undefined);
  const losses = withLoss.map(p => p.loss as number);
  const min = Math.min(...losses);
  const max = Math.max(...losses);
  return (
    <figure className="jp-substratus-LossChart">
      <svg
        width={WIDTH}
        height={HEIGHT}
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={trans.__(
          'Training loss over %1 steps, from %2 to %3',
          withLoss.length,
          losses[0]?.toFixed(3),
          losses[losses.length - 1]?.toFixed(3)
        )}
      >
        <rect x={0} y={0} width={WIDTH} height={HEIGHT} className="jp-substratus-ChartBg" />
        <polyline
          points={lossPolyline(withLoss, WIDTH, HEIGHT)}
          className="jp-substratus-ChartLine"
          fill="none"
        />
      </svg>
      <figcaption>
        {trans.__(
          'loss %1 (top) to %2 (bottom), steps %3–%4',
          max.toFixed(3),
          min.toFixed(3),
          withLoss[0]?.step,
          withLoss[withLoss.length - 1]?.step
        )}
      </figcaption>
    </figure>
  );
}
