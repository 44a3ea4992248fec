/**
 * The left sidebar: a section per kind, each resource with its live state and actions.
 * Every action is a command, so the same things are reachable from the palette.
 */
import { ReactWidget } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import {
  buildIcon,
  deleteIcon,
  infoIcon,
  launchIcon,
  LabIcon,
  listIcon,
  pauseIcon,
  refreshIcon,
  runIcon,
  stopIcon
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import * as React from 'react';

import { IResource, IServerInfo, Kind, KINDS } from '../api/types';
import { trainingProgress } from '../logic/progress';
import {
  Action,
  actionsFor,
  deriveState,
  describeState,
  IResourceState,
  phaseLabel
} from '../logic/state';
import { ResourceStore } from '../model';
import { CommandIDs } from '../commands';
import { ProgressBar, useLogProgress } from './progressBar';

function sectionTitle(kind: Kind, trans: TranslationBundle): string {
  const titles: Record<Kind, string> = {
    Dataset: trans.__('Datasets'),
    Model: trans.__('Models'),
    Server: trans.__('Servers'),
    Notebook: trans.__('Notebooks')
  };
  return titles[kind];
}

function createButtons(
  kind: Kind,
  trans: TranslationBundle
): Array<{ command: string; label: string }> {
  const buttons: Record<Kind, Array<{ command: string; label: string }>> = {
    Dataset: [{ command: CommandIDs.createDataset, label: trans.__('New') }],
    Model: [
      { command: CommandIDs.importModel, label: trans.__('Import') },
      { command: CommandIDs.fineTune, label: trans.__('Fine-tune') }
    ],
    Server: [{ command: CommandIDs.deployServer, label: trans.__('Deploy') }],
    Notebook: [{ command: CommandIDs.createNotebook, label: trans.__('New') }]
  };
  return buttons[kind];
}

interface IActionButton {
  command: string;
  label: string;
  icon: LabIcon;
}

function actionCommand(action: Action, trans: TranslationBundle): IActionButton {
  const commands: Record<Action, IActionButton> = {
    details: { command: CommandIDs.details, label: trans.__('Details'), icon: infoIcon },
    logs: { command: CommandIDs.logs, label: trans.__('Logs'), icon: listIcon },
    delete: { command: CommandIDs.delete_, label: trans.__('Delete'), icon: deleteIcon },
    rerun: { command: CommandIDs.rerun, label: trans.__('Run again'), icon: refreshIcon },
    cancel: { command: CommandIDs.cancel, label: trans.__('Cancel'), icon: stopIcon },
    finetune: { command: CommandIDs.fineTune, label: trans.__('Fine-tune'), icon: buildIcon },
    deploy: { command: CommandIDs.deployServer, label: trans.__('Deploy'), icon: runIcon },
    suspend: { command: CommandIDs.suspend, label: trans.__('Suspend'), icon: pauseIcon },
    resume: { command: CommandIDs.resume, label: trans.__('Resume'), icon: runIcon },
    open: { command: CommandIDs.openNotebook, label: trans.__('Open'), icon: launchIcon }
  };
  return commands[action];
}

/**
 * A fine-tune's progress bar while it runs: status.trainerStatus, or (until the reconcile flow
 * writes one) the progress lines of its log.
 */
function RowProgress(props: {
  resource: IResource;
  state: IResourceState;
  store: ResourceStore;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { resource, state, store, trans } = props;
  const trainer = resource.status?.trainerStatus;
  const training = resource.kind === 'Model' && !!resource.spec.dataset;
  const running = training && state.phase === 'running';
  const points = useLogProgress(store.client, resource, running && !trainer);
  const progress = running ? trainingProgress(trainer, points) : undefined;
  return progress ? <ProgressBar progress={progress} trans={trans} /> : null;
}

function argsFor(action: Action, r: IResource): Record<string, string> {
  if (action === 'finetune' || action === 'deploy') {
    return { model: r.metadata.name };
  }
  return { kind: r.kind, name: r.metadata.name };
}

interface IRowProps {
  resource: IResource;
  commands: CommandRegistry;
  store: ResourceStore;
  trans: TranslationBundle;
}

function Row(props: IRowProps): JSX.Element {
  const { resource, commands, store, trans } = props;
  const state = deriveState(resource);
  const name = resource.metadata.name;
  return (
    <li
      className="jp-substratus-Row"
      data-kind={resource.kind}
      data-name={name}
      data-phase={state.phase}
    >
      <div className="jp-substratus-RowHead">
        <span
          className={`jp-substratus-Phase jp-substratus-Phase-${state.phase}`}
          title={describeState(state, trans)}
        >
          {phaseLabel(state.phase, trans)}
        </span>
        <span className="jp-substratus-Name" title={name}>
          {name}
        </span>
        <div
          className="jp-substratus-Actions"
          role="toolbar"
          aria-label={trans.__('Actions for %1', name)}
        >
          {actionsFor(resource, state, store.info).map(action => {
            const { command, label, icon } = actionCommand(action, trans);
            return (
              <button
                key={action}
                className="jp-substratus-Action jp-substratus-IconAction"
                data-action={action}
                title={label}
                aria-label={trans.__('%1 %2 %3', label, resource.kind, name)}
                onClick={() => void commands.execute(command, argsFor(action, resource))}
              >
                <icon.react tag="span" elementPosition="center" />
              </button>
            );
          })}
        </div>
      </div>
      <RowProgress resource={resource} state={state} store={store} trans={trans} />
      {state.phase === 'failed' && (
        <div className="jp-substratus-Reason">
          {state.reason}
          {state.message ? `: ${state.message}` : ''}
        </div>
      )}
      {state.phase === 'stalled' && (
        <div className="jp-substratus-Stalled" role="status">
          {state.message || state.reason || trans.__('waiting for something that is missing')}
        </div>
      )}
      {!['failed', 'ready', 'stalled'].includes(state.phase) && state.message && (
        <div className="jp-substratus-Why">{state.message}</div>
      )}
    </li>
  );
}

function Section(props: {
  kind: Kind;
  items: IResource[];
  commands: CommandRegistry;
  store: ResourceStore;
  trans: TranslationBundle;
}): JSX.Element {
  const { kind, items, commands, store, trans } = props;
  const headingId = `jp-substratus-section-${kind}`;
  return (
    <section className="jp-substratus-Section" data-kind={kind} aria-labelledby={headingId}>
      <header className="jp-substratus-SectionHead">
        <h3 id={headingId}>
          {sectionTitle(kind, trans)} <span className="jp-substratus-Count">{items.length}</span>
        </h3>
        {createButtons(kind, trans).map(c => (
          <button
            key={c.command}
            className="jp-substratus-Create"
            data-command={c.command}
            onClick={() => void commands.execute(c.command)}
            aria-label={`${c.label} ${kind}`}
          >
            {c.label}
          </button>
        ))}
      </header>
      {items.length === 0 ? (
        <div className="jp-substratus-Empty">
          {trans.__('No %1 yet.', sectionTitle(kind, trans).toLowerCase())}
        </div>
      ) : (
        <ul className="jp-substratus-List">
          {items.map(r => (
            <Row
              key={r.metadata.name}
              resource={r}
              commands={commands}
              store={store}
              trans={trans}
            />
          ))}
        </ul>
      )}
    </section>
  );
}

export class SubstratusSidebar extends ReactWidget {
  constructor(
    private readonly _store: ResourceStore,
    private readonly _commands: CommandRegistry,
    private readonly _settings: () => { backend: string; namespace: string },
    private readonly _trans: TranslationBundle
  ) {
    super();
    this.addClass('jp-substratus-Sidebar');
    _store.changed.connect(this.update, this);
  }

  render(): JSX.Element {
    const lists = this._store.lists;
    const info: IServerInfo | undefined = this._store.info;
    const trans = this._trans;
    const { backend: expected, namespace } = this._settings();
    const mismatch = info && expected !== 'auto' && expected !== info.backend;
    return (
      <div className="jp-substratus-SidebarInner">
        <div className="jp-substratus-SidebarHead">
          <h2>Substratus</h2>
          <span
            className="jp-substratus-Backend"
            title={trans.__('Backend and namespace of the server')}
          >
            {info ? `${info.backend} · ${namespace || info.namespace}` : ''}
          </span>
          <button
            className="jp-substratus-Refresh"
            aria-label={trans.__('Refresh')}
            title={trans.__('Refresh')}
            onClick={() => void this._commands.execute(CommandIDs.refresh)}
          >
            ⟳
          </button>
        </div>
        {mismatch && (
          <div className="jp-substratus-Warning" role="status">
            {trans.__(
              'The server uses the %1 backend; the settings expect %2.',
              info.backend,
              expected
            )}
          </div>
        )}
        {this._store.error && (
          <div className="jp-substratus-Error" role="alert">
            {this._store.error}
          </div>
        )}
        {KINDS.map(kind => (
          <Section
            key={kind}
            kind={kind}
            items={lists[kind]}
            commands={this._commands}
            store={this._store}
            trans={trans}
          />
        ))}
      </div>
    );
  }
}
