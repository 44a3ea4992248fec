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
  /** A warning dialog before an action that stops a workload: whether the user went on. */
  const confirm = async (ask: { title: string; body: string; keep: string; go: string }) => {
    const answer = await showDialog({
      title: ask.title,
      body: ask.body,
      buttons: [Dialog.cancelButton({ label: ask.keep }), Dialog.warnButton({ label: ask.go })]
    });
    return answer.button.accept;
  };
  /** A command on one resource, named by its args kind and name: labelled with both. */
  const addResourceCommand = (
    id: string,
    command: {
      label: (kind: string, name: string) => string;
      /** The label without a resource (the palette's, the menus'). */
      unnamed: string;
      /** Whether a kind has the command; every kind by default. */
      forKind?: (kind: string) => boolean;
      execute: (kind: Kind, name: string) => unknown;
    }
  ) =>
    commands.addCommand(id, {
      label: args =>
        args.name ? command.label(String(args.kind), String(args.name)) : command.unnamed,
      isVisible: args => named(args) && (command.forKind?.(String(args.kind)) ?? true),
      execute: args =>
        isKind(args.kind) && args.name ? command.execute(args.kind, String(args.name)) : undefined
    });
  const runsAgain = (kind: string) => runsToCompletion(kind, store.info);

  addResourceCommand(CommandIDs.details, {
    label: (kind, name) => trans.__('Details of %1 %2', kind, name),
    unnamed: trans.__('Resource Details'),
    execute: (kind, name) => context.openDetails(kind, name)
  });
  addResourceCommand(CommandIDs.logs, {
    label: (kind, name) => trans.__('Logs of %1 %2', kind, name),
    unnamed: trans.__('Resource Logs'),
    execute: (kind, name) => context.openDetails(kind, name, true)
  });
  addResourceCommand(CommandIDs.delete_, {
    label: (kind, name) => trans.__('Delete %1 %2', kind, name),
    unnamed: trans.__('Delete Resource'),
    execute: async (kind, name) => {
      const asked = await confirm({
        title: trans.__('Delete %1 %2?', kind, name),
        body: trans.__('Its workload stops and its outputs are removed.'),
        keep: trans.__('Cancel'),
        go: trans.__('Delete')
      });
      if (!asked) {
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
  addResourceCommand(CommandIDs.rerun, {
    label: (kind, name) => trans.__('Run %1 %2 Again', kind, name),
    unnamed: trans.__('Run Again'),
    forKind: runsAgain,
    execute: async (kind, name) => {
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
  addResourceCommand(CommandIDs.cancel, {
    label: (kind, name) => trans.__('Cancel %1 %2', kind, name),
    unnamed: trans.__('Cancel Run'),
    forKind: runsAgain,
    execute: async (kind, name) => {
      const asked = await confirm({
        title: trans.__('Cancel %1 %2?', kind, name),
        body: trans.__(
          'Its run stops now and it reads as failed (Cancelled); Run again starts it anew.'
        ),
        keep: trans.__('Keep running'),
        go: trans.__('Cancel run')
      });
      if (!asked) {
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
