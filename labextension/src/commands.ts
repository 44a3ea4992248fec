/**
 * The extension's commands: every action of the sidebar, the details views and the palette.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, ICommandPalette, Notification, showDialog } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';

import { Kind, KINDS } from './api/types';
import {
  createDatasetDialog,
  createNotebookDialog,
  deployServerDialog,
  fineTuneDialog,
  IDefaults,
  importModelDialog
} from './dialogs';
import { exportNotebook } from './export';
import { runsToCompletion } from './logic/state';
import { ResourceStore } from './model';

/** Command ids of the extension; each is labelled in the palette. */
export namespace CommandIDs {
  export const openSidebar = 'substratus:open-sidebar';
  export const refresh = 'substratus:refresh';
  export const createDataset = 'substratus:create-dataset';
  export const importModel = 'substratus:import-model';
  export const fineTune = 'substratus:fine-tune';
  export const deployServer = 'substratus:deploy-server';
  export const createNotebook = 'substratus:create-notebook';
  export const details = 'substratus:details';
  export const logs = 'substratus:logs';
  export const delete_ = 'substratus:delete';
  export const rerun = 'substratus:rerun';
  export const cancel = 'substratus:cancel';
  export const suspend = 'substratus:suspend';
  export const resume = 'substratus:resume';
  export const openNotebook = 'substratus:open-notebook';
  export const exportNotebook = 'substratus:export-notebook';
}

/** What the commands act on, made by the plugin's activation. */
export interface ICommandContext {
  app: JupyterFrontEnd;
  store: ResourceStore;
  trans: TranslationBundle;
  sidebarId: string;
  /** The settings' GPU defaults, read when a dialog opens. */
  defaults: () => IDefaults;
  /** Open (or show) the details of a resource; `logs` scrolls to its log. */
  openDetails: (kind: Kind, name: string, logs?: boolean) => void;
  notebooks: INotebookTracker | null;
  palette: ICommandPalette | null;
}

function isKind(value: unknown): value is Kind {
  return KINDS.includes(value as Kind);
}

export function registerCommands(context: ICommandContext): void {
  const { app, store, trans, notebooks } = context;
  const { commands, shell } = app;
  const client = store.client;

  const reportError = (what: string, error: unknown) =>
    Notification.error(trans.__('%1: %2', what, (error as Error)?.message ?? String(error)), {
      autoClose: 8000
    });
  const guard = (what: string, fn: () => Promise<unknown>) => () =>
    fn().catch(error => reportError(what, error));
  const named = (args: { kind?: unknown; name?: unknown }) => isKind(args.kind) && !!args.name;

  commands.addCommand(CommandIDs.openSidebar, {
    label: trans.__('Show Substratus Sidebar'),
    execute: () => shell.activateById(context.sidebarId)
  });
  commands.addCommand(CommandIDs.refresh, {
    label: trans.__('Refresh Substratus Resources'),
    execute: () => store.refresh()
  });
  commands.addCommand(CommandIDs.createDataset, {
    label: trans.__('Create Dataset…'),
    caption: trans.__('Load a Dataset from URLs'),
    execute: guard(trans.__('Create Dataset'), () => createDatasetDialog(store, trans))
  });
  commands.addCommand(CommandIDs.importModel, {
    label: trans.__('Import Model…'),
    caption: trans.__('Import a Model from Hugging Face or a path'),
    execute: guard(trans.__('Import Model'), () => importModelDialog(store, trans))
  });
  commands.addCommand(CommandIDs.fineTune, {
    label: args =>
      args.model ? trans.__('Fine-tune %1…', String(args.model)) : trans.__('Fine-tune Model…'),
    execute: args =>
      guard(trans.__('Fine-tune'), () =>
        fineTuneDialog(store, trans, context.defaults(), String(args.model ?? ''))
      )()
  });
  commands.addCommand(CommandIDs.deployServer, {
    label: args =>
      args.model
        ? trans.__('Deploy Server for %1…', String(args.model))
        : trans.__('Deploy Server…'),
    execute: args =>
      guard(trans.__('Deploy Server'), () =>
        deployServerDialog(store, trans, context.defaults(), String(args.model ?? ''))
      )()
  });
  commands.addCommand(CommandIDs.createNotebook, {
    label: trans.__('Start GPU Notebook…'),
    execute: guard(trans.__('Start Notebook'), () =>
      createNotebookDialog(store, trans, context.defaults())
    )
  });
  commands.addCommand(CommandIDs.details, {
    label: args =>
      args.name
        ? trans.__('Details of %1 %2', String(args.kind), String(args.name))
        : trans.__('Resource Details'),
    isVisible: named,
    execute: args => {
      if (isKind(args.kind) && args.name) {
        context.openDetails(args.kind, String(args.name));
      }
    }
  });
  commands.addCommand(CommandIDs.logs, {
    label: args =>
      args.name
        ? trans.__('Logs of %1 %2', String(args.kind), String(args.name))
        : trans.__('Resource Logs'),
    isVisible: named,
    execute: args => {
      if (isKind(args.kind) && args.name) {
        context.openDetails(args.kind, String(args.name), true);
      }
    }
  });
  commands.addCommand(CommandIDs.delete_, {
    label: args =>
      args.name
        ? trans.__('Delete %1 %2', String(args.kind), String(args.name))
        : trans.__('Delete Resource'),
    isVisible: named,
    execute: async args => {
      if (!isKind(args.kind) || !args.name) {
        return;
      }
      const kind = args.kind;
      const name = String(args.name);
      const answer = await showDialog({
        title: trans.__('Delete %1 %2?', kind, name),
        body: trans.__('Its workload stops and its outputs are removed.'),
        buttons: [
          Dialog.cancelButton({ label: trans.__('Cancel') }),
          Dialog.warnButton({ label: trans.__('Delete') })
        ]
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
        Notification.success(trans.__('Deleted %1 %2', kind, name), { autoClose: 4000 });
      } catch (error) {
        reportError(trans.__('Delete %1 %2', kind, name), error);
      }
    }
  });
  commands.addCommand(CommandIDs.rerun, {
    label: args =>
      args.name
        ? trans.__('Run %1 %2 Again', String(args.kind), String(args.name))
        : trans.__('Run Again'),
    isVisible: args => named(args) && runsToCompletion(String(args.kind), store.info),
    execute: async args => {
      if (!isKind(args.kind) || !args.name) {
        return;
      }
      const kind = args.kind;
      const name = String(args.name);
      try {
        store.upsert(await client.rerun(kind, name));
        Notification.success(trans.__('%1 %2 runs again from the start', kind, name), {
          autoClose: 4000
        });
      } catch (error) {
        reportError(trans.__('Run %1 %2 again', kind, name), error);
      }
    }
  });
  commands.addCommand(CommandIDs.cancel, {
    label: args =>
      args.name
        ? trans.__('Cancel %1 %2', String(args.kind), String(args.name))
        : trans.__('Cancel Run'),
    isVisible: args => named(args) && runsToCompletion(String(args.kind), store.info),
    execute: async args => {
      if (!isKind(args.kind) || !args.name) {
        return;
      }
      const kind = args.kind;
      const name = String(args.name);
      const answer = await showDialog({
        title: trans.__('Cancel %1 %2?', kind, name),
        body: trans.__(
          'Its run stops now and it reads as failed (Cancelled); Run again starts it anew.'
        ),
        buttons: [
          Dialog.cancelButton({ label: trans.__('Keep running') }),
          Dialog.warnButton({ label: trans.__('Cancel run') })
        ]
      });
      if (!answer.button.accept) {
        return;
      }
      try {
        store.upsert(await client.cancel(kind, name));
        Notification.info(trans.__('%1 %2: cancel requested', kind, name), { autoClose: 4000 });
      } catch (error) {
        reportError(trans.__('Cancel %1 %2', kind, name), error);
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
      const what = suspend
        ? trans.__('Suspend Notebook %1', name)
        : trans.__('Resume Notebook %1', name);
      reportError(what, error);
    }
  };
  commands.addCommand(CommandIDs.suspend, {
    label: args => trans.__('Suspend Notebook %1', String(args.name ?? '')).trim(),
    isVisible: args => !!args.name,
    execute: args => setSuspend(String(args.name), true)
  });
  commands.addCommand(CommandIDs.resume, {
    label: args => trans.__('Resume Notebook %1', String(args.name ?? '')).trim(),
    isVisible: args => !!args.name,
    execute: args => setSuspend(String(args.name), false)
  });
  commands.addCommand(CommandIDs.openNotebook, {
    label: args => trans.__('Open Notebook %1', String(args.name ?? '')).trim(),
    isVisible: args => !!args.name,
    execute: args => {
      const url = store.find('Notebook', String(args.name))?.status?.url;
      if (url) {
        window.open(url, '_blank', 'noopener');
      }
    }
  });
  commands.addCommand(CommandIDs.exportNotebook, {
    label: trans.__('Export Notebook to Model…'),
    caption: trans.__('Fine-tune a Model with the code of this notebook'),
    isEnabled: args => !!args.path || !!notebooks?.currentWidget,
    execute: args => {
      const path = String(args.path ?? notebooks?.currentWidget?.context.path ?? '');
      if (!path) {
        return;
      }
      return exportNotebook(store, commands, context.defaults(), path, trans).catch(error =>
        reportError(trans.__('Export to Model'), error)
      );
    }
  });

  const category = trans.__('Substratus');
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
    context.palette?.addItem({ command, category });
  }
}
