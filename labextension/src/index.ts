/**
 * jupyter-substratus: the sidebar, the create dialogs, Export to Model and the details
 * views, all talking to the REST API under /substratus/api/v1.
 */
import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  MainAreaWidget,
  Notification,
  showDialog,
  ToolbarButton,
  WidgetTracker
} from '@jupyterlab/apputils';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookTracker, NotebookPanel, INotebookModel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';

import { SubstratusClient } from './api/client';
import { Kind, KINDS } from './api/types';
import { CommandIDs } from './commands';
import {
  createDatasetDialog,
  createNotebookDialog,
  deployServerDialog,
  fineTuneDialog,
  IDefaults,
  importModelDialog
} from './dialogs';
import { exportNotebook } from './export';
import { ResourceStore } from './model';
import { DetailsPanel } from './widgets/details';
import { SubstratusSidebar } from './widgets/sidebar';

const PLUGIN_ID = 'jupyter-substratus:plugin';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
<g class="jp-icon3" fill="#616161"><path d="M12 2 3 7v10l9 5 9-5V7l-9-5zm0 2.3L18.6 8 12 11.7 5.4 8 12 4.3zM5 9.7l6 3.4v6.6l-6-3.3V9.7zm8 10v-6.6l6-3.4v6.7l-6 3.3z"/></g>
</svg>`;

export const substratusIcon = new LabIcon({ name: 'jupyter-substratus:icon', svgstr: ICON_SVG });

interface ISettings extends IDefaults {
  backend: string;
  namespace: string;
  pollSeconds: number;
}

const DEFAULT_SETTINGS: ISettings = {
  backend: 'auto',
  namespace: '',
  gpuType: 'none',
  gpuCount: 0,
  pollSeconds: 30
};

function readSettings(settings: ISettingRegistry.ISettings | null): ISettings {
  if (!settings) {
    return { ...DEFAULT_SETTINGS };
  }
  const c = settings.composite as Partial<ISettings>;
  return {
    backend: String(c.backend ?? DEFAULT_SETTINGS.backend),
    namespace: String(c.namespace ?? ''),
    gpuType: String(c.gpuType ?? DEFAULT_SETTINGS.gpuType),
    gpuCount: Number(c.gpuCount ?? DEFAULT_SETTINGS.gpuCount),
    pollSeconds: Number(c.pollSeconds ?? DEFAULT_SETTINGS.pollSeconds)
  };
}

function isKind(value: unknown): value is Kind {
  return KINDS.includes(value as Kind);
}

function reportError(what: string, error: unknown): void {
  Notification.error(`${what}: ${(error as Error)?.message ?? error}`, { autoClose: 8000 });
}

/** The "Export to Model" button of every notebook's toolbar. */
class ExportButtonExtension
  implements DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel>
{
  constructor(private readonly _app: JupyterFrontEnd) {}

  createNew(panel: NotebookPanel): IDisposable {
    const button = new ToolbarButton({
      className: 'jp-substratus-ExportButton',
      label: 'Export to Model',
      tooltip: 'Export this notebook to a Substratus Model (fine-tune with its code)',
      onClick: () =>
        void this._app.commands.execute(CommandIDs.exportNotebook, { path: panel.context.path })
    });
    panel.toolbar.insertAfter('cellType', 'substratus-export', button);
    return new DisposableDelegate(() => button.dispose());
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Models, Datasets, Servers and Notebooks of Substratus in JupyterLab.',
  autoStart: true,
  optional: [ISettingRegistry, ICommandPalette, ILayoutRestorer, INotebookTracker, ILabShell],
  activate: async (
    app: JupyterFrontEnd,
    registry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    notebooks: INotebookTracker | null
  ) => {
    let settings: ISettingRegistry.ISettings | null = null;
    if (registry) {
      try {
        settings = await registry.load(PLUGIN_ID);
      } catch (error) {
        console.warn('jupyter-substratus: settings not loaded', error);
      }
    }
    let current = readSettings(settings);

    const client = new SubstratusClient({
      serverSettings: app.serviceManager.serverSettings,
      namespace: () => current.namespace
    });
    const store = new ResourceStore(client);
    const { commands, shell } = app;

    const sidebar = new SubstratusSidebar(store, commands, () => current);
    sidebar.id = 'jupyter-substratus-sidebar';
    sidebar.title.icon = substratusIcon;
    sidebar.title.caption = 'Substratus';
    shell.add(sidebar, 'left', { rank: 600 });
    restorer?.add(sidebar, sidebar.id);

    settings?.changed.connect(() => {
      const namespaceBefore = current.namespace;
      current = readSettings(settings);
      store.setPollInterval(current.pollSeconds);
      if (current.namespace !== namespaceBefore) {
        store.reconnect();
      } else {
        sidebar.update();
      }
    });
    store.start(current.pollSeconds);

    const tracker = new WidgetTracker<MainAreaWidget<DetailsPanel>>({
      namespace: 'substratus-details'
    });
    restorer?.restore(tracker, {
      command: CommandIDs.details,
      args: w => ({ kind: w.content.kind, name: w.content.name }),
      name: w => `${w.content.kind}/${w.content.name}`
    });

    const openDetails = (kind: Kind, name: string, logs = false) => {
      const existing = tracker.find(w => w.content.kind === kind && w.content.name === name);
      if (existing) {
        shell.activateById(existing.id);
        if (logs) {
          existing.content.node.querySelector('.jp-substratus-Logs')?.scrollIntoView();
        }
        return existing;
      }
      const content = new DetailsPanel(store, kind, name);
      const widget = new MainAreaWidget({ content });
      widget.id = `substratus-details-${kind}-${name}`;
      widget.title.label = content.title.label;
      widget.title.icon = substratusIcon;
      void tracker.add(widget);
      shell.add(widget, 'main');
      shell.activateById(widget.id);
      return widget;
    };

    const defaults = (): IDefaults => ({ gpuType: current.gpuType, gpuCount: current.gpuCount });
    const guard = (what: string, fn: () => Promise<unknown>) => () =>
      fn().catch(error => reportError(what, error));

    commands.addCommand(CommandIDs.openSidebar, {
      label: 'Show Substratus Sidebar',
      execute: () => shell.activateById(sidebar.id)
    });
    commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh Substratus Resources',
      execute: () => store.refresh()
    });
    commands.addCommand(CommandIDs.createDataset, {
      label: 'Create Dataset…',
      caption: 'Load a Dataset from URLs',
      execute: guard('Create Dataset', () => createDatasetDialog(store))
    });
    commands.addCommand(CommandIDs.importModel, {
      label: 'Import Model…',
      caption: 'Import a Model from Hugging Face or a path',
      execute: guard('Import Model', () => importModelDialog(store))
    });
    commands.addCommand(CommandIDs.fineTune, {
      label: args => (args.model ? `Fine-tune ${args.model}…` : 'Fine-tune Model…'),
      execute: args =>
        guard('Fine-tune', () => fineTuneDialog(store, defaults(), String(args.model ?? '')))()
    });
    commands.addCommand(CommandIDs.deployServer, {
      label: args => (args.model ? `Deploy Server for ${args.model}…` : 'Deploy Server…'),
      execute: args =>
        guard('Deploy Server', () => deployServerDialog(store, defaults(), String(args.model ?? '')))()
    });
    commands.addCommand(CommandIDs.createNotebook, {
      label: 'Start GPU Notebook…',
      execute: guard('Start Notebook', () => createNotebookDialog(store, defaults()))
    });
    commands.addCommand(CommandIDs.details, {
      label: args => (args.name ? `Details of ${args.kind} ${args.name}` : 'Resource Details'),
      isVisible: args => isKind(args.kind) && !!args.name,
      execute: args => {
        if (isKind(args.kind) && args.name) {
          return openDetails(args.kind, String(args.name));
        }
      }
    });
    commands.addCommand(CommandIDs.logs, {
      label: args => (args.name ? `Logs of ${args.kind} ${args.name}` : 'Resource Logs'),
      isVisible: args => isKind(args.kind) && !!args.name,
      execute: args => {
        if (isKind(args.kind) && args.name) {
          return openDetails(args.kind, String(args.name), true);
        }
      }
    });
    commands.addCommand(CommandIDs.delete_, {
      label: args => (args.name ? `Delete ${args.kind} ${args.name}` : 'Delete Resource'),
      isVisible: args => isKind(args.kind) && !!args.name,
      execute: async args => {
        if (!isKind(args.kind) || !args.name) {
          return;
        }
        const kind = args.kind;
        const name = String(args.name);
        const answer = await showDialog({
          title: `Delete ${kind} ${name}?`,
          body: 'Its workload stops and its outputs are removed.',
          buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
        });
        if (!answer.button.accept) {
          return;
        }
        try {
          await client.delete(kind, name);
          const r = store.find(kind, name);
          if (r) {
            store.remove(r);
          }
          Notification.success(`Deleted ${kind} ${name}`, { autoClose: 4000 });
        } catch (error) {
          reportError(`Delete ${kind} ${name}`, error);
        }
      }
    });
    commands.addCommand(CommandIDs.rerun, {
      label: args => (args.name ? `Run ${args.kind} ${args.name} Again` : 'Run Again'),
      isVisible: args => (args.kind === 'Model' || args.kind === 'Dataset') && !!args.name,
      execute: async args => {
        if (!isKind(args.kind) || !args.name) {
          return;
        }
        const kind = args.kind;
        const name = String(args.name);
        try {
          store.upsert(await client.rerun(kind, name));
          Notification.success(`${kind} ${name} runs again from the start`, { autoClose: 4000 });
        } catch (error) {
          reportError(`Run ${kind} ${name} again`, error);
        }
      }
    });
    const setSuspend = async (name: string, suspend: boolean) => {
      try {
        const changed = await client.modify('Notebook', name, nb => ({
          ...nb,
          spec: { ...nb.spec, suspend }
        }));
        store.upsert(changed);
      } catch (error) {
        reportError(`${suspend ? 'Suspend' : 'Resume'} Notebook ${name}`, error);
      }
    };
    commands.addCommand(CommandIDs.suspend, {
      label: args => `Suspend Notebook ${args.name ?? ''}`.trim(),
      isVisible: args => !!args.name,
      execute: args => setSuspend(String(args.name), true)
    });
    commands.addCommand(CommandIDs.resume, {
      label: args => `Resume Notebook ${args.name ?? ''}`.trim(),
      isVisible: args => !!args.name,
      execute: args => setSuspend(String(args.name), false)
    });
    commands.addCommand(CommandIDs.openNotebook, {
      label: args => `Open Notebook ${args.name ?? ''}`.trim(),
      isVisible: args => !!args.name,
      execute: args => {
        const url = store.find('Notebook', String(args.name))?.status?.url;
        if (url) {
          window.open(url, '_blank', 'noopener');
        }
      }
    });
    commands.addCommand(CommandIDs.exportNotebook, {
      label: 'Export Notebook to Model…',
      caption: 'Fine-tune a Model with the code of this notebook',
      isEnabled: args => !!args.path || !!notebooks?.currentWidget,
      execute: args => {
        const path = String(args.path ?? notebooks?.currentWidget?.context.path ?? '');
        if (!path) {
          return;
        }
        return exportNotebook(store, commands, defaults(), path).catch(error =>
          reportError('Export to Model', error)
        );
      }
    });

    if (palette) {
      const category = 'Substratus';
      for (const command of [
        CommandIDs.openSidebar,
        CommandIDs.refresh,
        CommandIDs.createDataset,
        CommandIDs.importModel,
        CommandIDs.fineTune,
        CommandIDs.deployServer,
        CommandIDs.createNotebook,
        CommandIDs.exportNotebook
      ]) {
        palette.addItem({ command, category });
      }
    }

    app.docRegistry.addWidgetExtension('Notebook', new ExportButtonExtension(app));
  }
};

export default plugin;
