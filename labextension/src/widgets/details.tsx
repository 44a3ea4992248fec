/**
 * One resource in the main area: state, conditions, where its output lives, its logs as
 * they stream, the training loss curve, and for a ready Server a prompt box.
 */
import { ReactWidget } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IResource, Kind } from '../api/types';
import { deriveState, describeState } from '../logic/state';
import { formatEta, IProgressPoint, LineBuffer, parseProgressLine } from '../logic/progress';
import { ResourceStore } from '../model';
import { LossChart } from './lossChart';
import { PromptBox } from './prompt';

const MAX_LOG_LINES = 5000;

export class DetailsPanel extends ReactWidget {
  constructor(
    private readonly _store: ResourceStore,
    readonly kind: Kind,
    readonly name: string,
    private readonly _trans: TranslationBundle
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
    const last = this._progress[this._progress.length - 1];
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
              <dd>{r.status.artifacts.url}</dd>
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
        {this._progress.some(p => p.loss !== undefined) && (
          <>
            <h3>{trans.__('Training')}</h3>
            <div className="jp-substratus-Progress">
              {trans.__('step %1', last.step)}
              {last.epoch !== undefined && trans.__(', epoch %1', last.epoch.toFixed(2))}
              {last.loss !== undefined && trans.__(', loss %1', last.loss.toFixed(4))}
              {last.etaSeconds !== undefined && trans.__(', ETA %1', formatEta(last.etaSeconds))}
            </div>
            <LossChart points={this._progress} trans={trans} />
          </>
        )}
        {r.kind === 'Server' && state.phase === 'ready' && (
          <>
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
    const buffer = new LineBuffer();
    this._following = true;
    try {
      const response = await this._store.client.logs(this.kind, this.name, true, abort.signal);
      const reader = response.body?.getReader();
      if (!reader) {
        this._addLines(buffer.push(await response.text()).concat(buffer.flush()));
        return;
      }
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          break;
        }
        this._addLines(buffer.push(decoder.decode(value, { stream: true })));
      }
      this._addLines(buffer.flush());
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
    if (!lines.length) {
      return;
    }
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
  private _abort: AbortController | undefined;
  private _following = false;
  private _started = 0;
}
