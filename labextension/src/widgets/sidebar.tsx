/**
 * The left sidebar: a section per kind, each resource with its live state and actions.
 * Every action is a command, so the same things are reachable from the palette.
 */
import { ReactWidget } from '@jupyterlab/apputils';
import { CommandRegistry } from '@lumino/commands';
import * as React from 'react';

import { IResource, Kind, KINDS } from '../api/types';
import { Action, actionsFor, deriveState, describeState } from '../logic/state';
import { ResourceStore } from '../model';
import { CommandIDs } from '../commands';

const SECTION_TITLES: Record<Kind, string> = {
  Dataset: 'Datasets',
  Model: 'Models',
  Server: 'Servers',
  Notebook: 'Notebooks'
};

const CREATE: Record<Kind, Array<{ command: string; label: string }>> = {
  Dataset: [{ command: CommandIDs.createDataset, label: 'New' }],
  Model: [
    { command: CommandIDs.importModel, label: 'Import' },
    { command: CommandIDs.fineTune, label: 'Fine-tune' }
  ],
  Server: [{ command: CommandIDs.deployServer, label: 'Deploy' }],
  Notebook: [{ command: CommandIDs.createNotebook, label: 'New' }]
};

const ACTION_COMMANDS: Record<Action, { command: string; label: string }> = {
  details: { command: CommandIDs.details, label: 'Details' },
  logs: { command: CommandIDs.logs, label: 'Logs' },
  delete: { command: CommandIDs.delete_, label: 'Delete' },
  rerun: { command: CommandIDs.rerun, label: 'Run again' },
  finetune: { command: CommandIDs.fineTune, label: 'Fine-tune' },
  deploy: { command: CommandIDs.deployServer, label: 'Deploy' },
  suspend: { command: CommandIDs.suspend, label: 'Suspend' },
  resume: { command: CommandIDs.resume, label: 'Resume' },
  open: { command: CommandIDs.openNotebook, label: 'Open' }
};

function argsFor(action: Action, r: IResource): Record<string, string> {
  if (action === 'finetune' || action === 'deploy') {
    return { model: r.metadata.name };
  }
  return { kind: r.kind, name: r.metadata.name };
}

function Row(props: { resource: IResource; commands: CommandRegistry }): JSX.Element {
  const { resource, commands } = props;
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
          title={describeState(state)}
        >
          {state.phase}
        </span>
        <span className="jp-substratus-Name" title={name}>
          {name}
        </span>
      </div>
      {state.phase === 'failed' && (
        <div className="jp-substratus-Reason">
          {state.reason}
          {state.message ? `: ${state.message}` : ''}
        </div>
      )}
      {state.phase !== 'failed' && state.phase !== 'ready' && state.message && (
        <div className="jp-substratus-Why">{state.message}</div>
      )}
      <div className="jp-substratus-Actions" role="toolbar" aria-label={`Actions for ${name}`}>
        {actionsFor(resource, state).map(action => {
          const { command, label } = ACTION_COMMANDS[action];
          return (
            <button
              key={action}
              className="jp-substratus-Action"
              data-action={action}
              aria-label={`${label} ${resource.kind} ${name}`}
              onClick={() => void commands.execute(command, argsFor(action, resource))}
            >
              {label}
            </button>
          );
        })}
      </div>
    </li>
  );
}

function Section(props: {
  kind: Kind;
  items: IResource[];
  commands: CommandRegistry;
}): JSX.Element {
  const { kind, items, commands } = props;
  const headingId = `jp-substratus-section-${kind}`;
  return (
    <section className="jp-substratus-Section" data-kind={kind} aria-labelledby={headingId}>
      <header className="jp-substratus-SectionHead">
        <h3 id={headingId}>
          {SECTION_TITLES[kind]} <span className="jp-substratus-Count">{items.length}</span>
        </h3>
        {CREATE[kind].map(c => (
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
        <div className="jp-substratus-Empty">No {SECTION_TITLES[kind].toLowerCase()} yet.</div>
      ) : (
        <ul className="jp-substratus-List">
          {items.map(r => (
            <Row key={r.metadata.name} resource={r} commands={commands} />
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
    private readonly _settings: () => { backend: string; namespace: string }
  ) {
    super();
    this.addClass('jp-substratus-Sidebar');
    _store.changed.connect(this.update, this);
  }

  render(): JSX.Element {
    const lists = this._store.lists;
    const info = this._store.info;
    const { backend: expected, namespace } = this._settings();
    const mismatch = info && expected !== 'auto' && expected !== info.backend;
    return (
      <div className="jp-substratus-SidebarInner">
        <div className="jp-substratus-SidebarHead">
          <h2>Substratus</h2>
          <span className="jp-substratus-Backend" title="Backend and namespace of the server">
            {info ? `${info.backend} · ${namespace || info.namespace}` : ''}
          </span>
          <button
            className="jp-substratus-Refresh"
            aria-label="Refresh"
            title="Refresh"
            onClick={() => void this._commands.execute(CommandIDs.refresh)}
          >
            ⟳
          </button>
        </div>
        {mismatch && (
          <div className="jp-substratus-Warning" role="status">
            The server uses the {info.backend} backend; the settings expect {expected}.
          </div>
        )}
        {this._store.error && (
          <div className="jp-substratus-Error" role="alert">
            {this._store.error}
          </div>
        )}
        {KINDS.map(kind => (
          <Section key={kind} kind={kind} items={lists[kind]} commands={this._commands} />
        ))}
      </div>
    );
  }
}
