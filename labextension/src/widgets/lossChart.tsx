/**
 * Training loss over steps as an SVG line chart in the theme's colours: axes with ticks and
 * labels, one curve per run with a legend, and the values under the pointer.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { chartGeometry, ILossSeries, nearestPoint } from '../logic/progress';

const WIDTH = 480;
const HEIGHT = 220;
const AREA = { left: 52, top: 10, width: WIDTH - 52 - 12, height: HEIGHT - 10 - 40 };

function tickLabel(value: number): string {
  return Number(value.toPrecision(4)).toString();
}

export function LossChart(props: { series: ILossSeries[]; trans: TranslationBundle }): JSX.Element {
  const { trans } = props;
  const series = props.series.filter(s => s.points.length > 0);
  const [hoverStep, setHoverStep] = React.useState<number | undefined>();
  const svg = React.useRef<SVGSVGElement>(null);
  if (series.length === 0) {
    return <></>;
  }
  const g = chartGeometry(series, AREA);
  const bottom = AREA.top + AREA.height;
  const right = AREA.left + AREA.width;
  const first = series[0].points;
  const onMove = (e: React.MouseEvent<SVGSVGElement>) => {
    const box = svg.current?.getBoundingClientRect();
    if (box && box.width > 0) {
      setHoverStep(g.stepAt(((e.clientX - box.left) / box.width) * WIDTH));
    }
  };
  const hovered =
    hoverStep === undefined
      ? []
      : series.flatMap((s, i) => {
          const p = nearestPoint(s.points, hoverStep);
          return p ? [{ name: s.name, index: i, ...p }] : [];
        });
  return (
    <figure className="jp-substratus-LossChart">
      <svg
        ref={svg}
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={trans.__(
          'Training loss over %1 steps, from %2 to %3',
          first.length,
          first[0].loss.toFixed(3),
          first[first.length - 1].loss.toFixed(3)
        )}
        onMouseMove={onMove}
        onMouseLeave={() => setHoverStep(undefined)}
      >
        <rect
          x={AREA.left}
          y={AREA.top}
          width={AREA.width}
          height={AREA.height}
          className="jp-substratus-ChartBg"
        />
        <g className="jp-substratus-ChartAxis" data-axis="y">
          {g.yTicks.map(t => (
            <g key={t}>
              <line
                x1={AREA.left}
                x2={right}
                y1={g.y(t)}
                y2={g.y(t)}
                className="jp-substratus-ChartGrid"
              />
              <text x={AREA.left - 6} y={g.y(t)} textAnchor="end" dominantBaseline="middle">
                {tickLabel(t)}
              </text>
            </g>
          ))}
          <text
            transform={`translate(12 ${AREA.top + AREA.height / 2}) rotate(-90)`}
            textAnchor="middle"
            className="jp-substratus-ChartTitle"
          >
            {trans.__('loss')}
          </text>
        </g>
        <g className="jp-substratus-ChartAxis" data-axis="x">
          <line x1={AREA.left} x2={right} y1={bottom} y2={bottom} />
          {g.xTicks.map(t => (
            <text key={t} x={g.x(t)} y={bottom + 14} textAnchor="middle">
              {tickLabel(t)}
            </text>
          ))}
          <text
            x={AREA.left + AREA.width / 2}
            y={HEIGHT - 4}
            textAnchor="middle"
            className="jp-substratus-ChartTitle"
          >
            {trans.__('step')}
          </text>
        </g>
        {series.map((s, i) => (
          <polyline
            key={s.name}
            data-series={s.name}
            points={s.points
              .map(p => `${g.x(p.step).toFixed(1)},${g.y(p.loss).toFixed(1)}`)
              .join(' ')}
            className={`jp-substratus-ChartLine jp-substratus-Series-${i % 6}`}
            fill="none"
          />
        ))}
        {hoverStep !== undefined && hovered.length > 0 && (
          <g className="jp-substratus-ChartHover">
            <line x1={g.x(hovered[0].step)} x2={g.x(hovered[0].step)} y1={AREA.top} y2={bottom} />
            {hovered.map(h => (
              <circle
                key={h.name}
                cx={g.x(h.step)}
                cy={g.y(h.loss)}
                r={3}
                className={`jp-substratus-Series-${h.index % 6}`}
              />
            ))}
          </g>
        )}
      </svg>
      <figcaption>
        <ul className="jp-substratus-Legend" aria-label={trans.__('Runs')}>
          {series.map((s, i) => {
            const h = hovered.find(x => x.name === s.name);
            return (
              <li key={s.name} data-series={s.name}>
                <span className={`jp-substratus-Swatch jp-substratus-Series-${i % 6}`} />
                {s.name}
                {h && (
                  <span className="jp-substratus-HoverValue">
                    {trans.__('step %1: loss %2', h.step, h.loss.toFixed(4))}
                  </span>
                )}
              </li>
            );
          })}
        </ul>
      </figcaption>
    </figure>
  );
}
