/**
 * A running training's progress bar (percentage, step, loss, ETA), for the sidebar row and the
 * details view.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { readLogLines } from '../api/logs';
import { SubstratusClient } from '../api/client';
import { IResource } from '../api/types';
import {
  IProgressPoint,
  ITrainingProgress,
  parseProgressLine,
  progressLabel
} from '../logic/progress';

export function ProgressBar(props: {
  progress: ITrainingProgress;
  trans: TranslationBundle;
}): JSX.Element {
  const { progress, trans } = props;
  const label = progressLabel(progress, trans);
  return (
    <div className="jp-substratus-ProgressBar" title={label}>
      <div
        className="jp-substratus-ProgressTrack"
        role="progressbar"
        aria-label={trans.__('Training progress')}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={progress.percent}
        aria-valuetext={label}
      >
        <div
          className="jp-substratus-ProgressFill"
          style={{ width: `${progress.percent ?? 0}%` }}
        />
      </div>
      <span className="jp-substratus-ProgressLabel">{label}</span>
    </div>
  );
}

/**
 * The progress lines of a resource's log while `enabled` (followed as they come), for a row
 * whose status has no trainerStatus yet.
 */
export function useLogProgress(
  client: SubstratusClient,
  resource: IResource,
  enabled: boolean
): IProgressPoint[] {
  const [points, setPoints] = React.useState<IProgressPoint[]>([]);
  const { kind } = resource;
  const { name } = resource.metadata;
  React.useEffect(() => {
    if (!enabled) {
      return;
    }
    const abort = new AbortController();
    setPoints([]);
    void readLogLines(
      client,
      kind,
      name,
      lines => {
        const more = lines.flatMap(line => parseProgressLine(line) ?? []);
        if (more.length) {
          setPoints(before => [...before, ...more]);
        }
      },
      { signal: abort.signal }
    ).catch(() => {
      // No log yet, or the workload is gone: the row shows no bar.
    });
    return () => abort.abort();
  }, [client, kind, name, enabled]);
  return points;
}
