/**
 * One resource in the main area: state, conditions, where its output lives (a link into the
 * file browser when it is in the Jupyter root), its logs as they stream, a training's progress
 * and loss curve (comparable with the other runs of its base model), and for a ready Server its
 * endpoint, an openai snippet and a prompt box.
 */
import { ReactWidget } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import type { Contents } from '@jupyterlab/services';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { CommandRegistry } from '@lumino/commands';
import * as React from 'react';

import { readLogLines } from '../api/logs';
import { IResource, Kind } from '../api/types';
import { sameBaseRuns } from '../logic/runs';
import { deriveState, describeState, SETTLED_PHASES } from '../logic/state';
import {
  ILossSeries,
  IProgressPoint,
  lossPoints,
  parseProgress,
  parseProgressLine,
  trainingProgress
} from '../logic/progress';
import { ResourceStore } from '../model';
import { ArtifactsLink } from './artifacts';
import { ServerEndpoint } from './endpoint';
import { LossChart } from './lossChart';
import { ProgressBar } from './progressBar';
import { PromptBox } from './prompt';

/** What a details view acts with besides the store: the Lab's commands and contents. */
export interface IDetailsServices {
  commands: CommandRegistry;
  contents: Contents.IManager;
}

const MAX_LOG_LINES = 5000;

export class DetailsPanel extends ReactWidget {
  constructor(
    private readonly _store: ResourceStore,
    readonly kind: Kind,
    readonly name: string,
    private readonly _trans: TranslationBundle,
    private readonly _services: IDetailsServices
  ) {
    super();
    this.addClass('jp-substratus-Details');
    this.id = `substratus-details-${kind}-${name}-content`;
    this.title.label = `${kind}: ${name}`;
    this.title.closable = true;
    _store.changed.connect(this._onStore, this);
    void this._load();
    this.startLogs();
  }

  get resource(): IResource | undefined {
    return this._resource;
  }

  /** (Re)start following the logs. */
  startLogs(): void {
    this._abort?.abort();
    const abort = new AbortController();
    this._abort = abort;
    this._logs = [];
    this._progress = [];
    this._logError = undefined;
    this._started = Date.now();
    void this._follow(abort);
  }

  dispose(): void {
    this._abort?.abort();
    this._store.changed.disconnect(this._onStore, this);
    super.dispose();
  }

  render(): JSX.Element {
    const r = this._resource;
    const trans = this._trans;
    if (!r) {
      return (
        <div className="jp-substratus-DetailsInner">{this._loadError ?? trans.__('Loading…')}</div>
      );
    }
    const state = deriveState(r);
    const spec = r.spec;
    return (
      <div className="jp-substratus-DetailsInner">
        <h2>
          {r.kind} <code>{r.metadata.name}</code>{' '}
          <span
            className={`jp-substratus-Phase jp-substratus-Phase-${state.phase}`}
            data-phase={state.phase}
          >
            {describeState(state, trans)}
          </span>
        </h2>
        <dl className="jp-substratus-Facts">
          {spec.image && (
            <>
              <dt>{trans.__('Image')}</dt>
              <dd>{spec.image}</dd>
            </>
          )}
          {r.status?.image && (
            <>
              <dt>{trans.__('Image in use')}</dt>
              <dd>{r.status.image}</dd>
            </>
          )}
          {spec.model && (
            <>
              <dt>{trans.__('Model')}</dt>
              <dd>{spec.model.name}</dd>
            </>
          )}
          {spec.dataset && (
            <>
              <dt>{trans.__('Dataset')}</dt>
              <dd>{spec.dataset.name}</dd>
            </>
          )}
          {spec.resources?.gpu && (
            <>
              <dt>{trans.__('GPU')}</dt>
              <dd>
                {spec.resources.gpu.count} × {spec.resources.gpu.type}
              </dd>
            </>
          )}
          {spec.params && Object.keys(spec.params).length > 0 && (
            <>
              <dt>{trans.__('Params')}</dt>
              <dd>
                {Object.entries(spec.params)
                  .map(([k, v]) => `${k}=${v}`)
                  .join(', ')}
              </dd>
            </>
          )}
          {r.status?.artifacts?.url && (
            <>
              <dt>{trans.__('Artifacts')}</dt>
              <dd>
                <ArtifactsLink
                  url={r.status.artifacts.url}
                  serverRoot={PageConfig.getOption('serverRoot')}
                  services={this._services}
                  trans={trans}
                />
              </dd>
            </>
          )}
          {r.status?.url && (
            <>
              <dt>{trans.__('Address')}</dt>
              <dd>{r.status.url}</dd>
            </>
          )}
        </dl>
        <h3>{trans.__('Conditions')}</h3>
        <table className="jp-substratus-Conditions">
          <thead>
            <tr>
              <th>{trans.__('Type')}</th>
              <th>{trans.__('Status')}</th>
              <th>{trans.__('Reason')}</th>
              <th>{trans.__('Message')}</th>
            </tr>
          </thead>
          <tbody>
            {(r.status?.conditions ?? []).map(c => (
              <tr key={c.type} data-status={c.status}>
                <td>{c.type}</td>
                <td>{c.status}</td>
                <td>{c.reason}</td>
                <td>{c.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {r.kind === 'Model' && this._renderTraining(r, !SETTLED_PHASES.includes(state.phase))}
        {r.kind === 'Server' && state.phase === 'ready' && (
          <>
            <h3>{trans.__('Endpoint')}</h3>
            <ServerEndpoint
              server={r}
              namespace={
                r.metadata.namespace !== this._store.info?.namespace
                  ? (r.metadata.namespace ?? '')
                  : ''
              }
              trans={trans}
            />
            <h3>{trans.__('Prompt')}</h3>
            <PromptBox client={this._store.client} server={r.metadata.name} trans={trans} />
          </>
        )}
        <h3>
          {trans.__('Logs')}{' '}
          <button className="jp-substratus-Action" onClick={() => this.startLogs()}>
            {trans.__('Reload')}
          </button>
        </h3>
        {this._logError && <div className="jp-substratus-Error">{this._logError}</div>}
        <pre className="jp-substratus-Logs" tabIndex={0} aria-label={trans.__('Logs')}>
          {this._logs.join('\n')}
        </pre>
      </div>
    );
  }

  /** Progress while it runs, the loss curve, and the other runs of its base model to compare. */
  private _renderTraining(model: IResource, running: boolean): JSX.Element | null {
    const trans = this._trans;
    const progress = trainingProgress(model.status?.trainerStatus, this._progress);
    const own = lossPoints(this._progress);
    if (!progress && own.length === 0) {
      return null;
    }
    const others = sameBaseRuns(model, this._store.lists.Model);
    const series: ILossSeries[] = [
      { name: model.metadata.name, points: own },
      ...others
        .filter(m => this._compared.has(m.metadata.name))
        .map(m => ({
          name: m.metadata.name,
          points: lossPoints(this._compared.get(m.metadata.name) ?? [])
        }))
    ];
    return (
      <>
        <h3>{trans.__('Training')}</h3>
        {progress && running && <ProgressBar progress={progress} trans={trans} />}
        <LossChart series={series} trans={trans} />
        {others.length > 0 && (
          <fieldset className="jp-substratus-Compare">
            <legend>
              {trans.__('Compare with other fine-tunes of %1', model.spec.model?.name ?? '')}
            </legend>
            {others.map(m => (
              <label key={m.metadata.name} title={m.metadata.name}>
                <input
                  type="checkbox"
                  data-run={m.metadata.name}
                  checked={this._compared.has(m.metadata.name)}
                  onChange={e => this._compare(m.metadata.name, e.target.checked)}
                />
                {m.metadata.name}
              </label>
            ))}
          </fieldset>
        )}
      </>
    );
  }

  /** Put another run's losses (read from its log) on the chart, or take them off. */
  private _compare(name: string, on: boolean): void {
    if (!on) {
      this._compared.delete(name);
      this.update();
      return;
    }
    this._compared.set(name, []);
    this.update();
    const text: string[] = [];
    readLogLines(this._store.client, 'Model', name, lines => text.push(...lines), {
      follow: false
    })
      .then(() => {
        if (this._compared.has(name)) {
          this._compared.set(name, parseProgress(text.join('\n')));
          this.update();
        }
      })
      .catch(error => {
        this._logError = this._trans.__('Logs of %1: %2', name, (error as Error).message ?? error);
        this.update();
      });
  }

  private _onStore(): void {
    const r = this._store.find(this.kind, this.name);
    if (r) {
      this._resource = r;
      this.update();
      // No workload had logs yet when we asked: ask again as the resource moves on.
      if (!this._following && this._logs.length === 0 && Date.now() - this._started > 3000) {
        this.startLogs();
      }
    }
  }

  private async _load(): Promise<void> {
    try {
      this._resource = await this._store.client.get(this.kind, this.name);
    } catch (error) {
      this._loadError = String((error as Error).message ?? error);
    }
    this.update();
  }

  private async _follow(abort: AbortController): Promise<void> {
    this._following = true;
    try {
      await readLogLines(this._store.client, this.kind, this.name, lines => this._addLines(lines), {
        signal: abort.signal
      });
    } catch (error) {
      if (!abort.signal.aborted) {
        this._logError = this._trans.__('Logs: %1', (error as Error).message ?? error);
        this.update();
      }
    } finally {
      if (this._abort === abort) {
        this._following = false;
      }
    }
  }

  private _addLines(lines: string[]): void {
    for (const line of lines) {
      const p = parseProgressLine(line);
      if (p) {
        this._progress.push(p);
      }
    }
    this._logs.push(...lines);
    if (this._logs.length > MAX_LOG_LINES) {
      this._logs.splice(0, this._logs.length - MAX_LOG_LINES);
    }
    this.update();
  }

  private _resource: IResource | undefined;
  private _loadError: string | undefined;
  private _logs: string[] = [];
  private _logError: string | undefined;
  private _progress: IProgressPoint[] = [];
  /** The runs on the chart besides this one, with their progress lines. */
  private _compared = new Map<string, IProgressPoint[]>();
  private _abort: AbortController | undefined;
  private _following = false;
  private _started = 0;
}
