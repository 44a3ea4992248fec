/**
 * jupyter-substratus: the sidebar, the create dialogs, Export to Model and the details
 * views, all talking to the REST API under /substratus/api/v1. The plugin provides the
 * resource store (IResourceStore) to other extensions; its commands live in ./commands.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import {
  ICommandPalette,
  MainAreaWidget,
  ToolbarButton,
  WidgetTracker
} from '@jupyterlab/apputils';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookModel, INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { LabIcon } from '@jupyterlab/ui-components';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';

import { SubstratusClient } from './api/client';
import { Kind } from './api/types';
import { CommandIDs, registerCommands } from './commands';
import { IDefaults } from './dialogs';
import { ResourceStore } from './model';
import { IResourceStore } from './tokens';
import { DetailsPanel } from './widgets/details';
import { SubstratusSidebar } from './widgets/sidebar';

export { IResourceStore } from './tokens';
export { CommandIDs } from './commands';

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

/** The "Export to Model" button of every notebook's toolbar. */
class ExportButtonExtension implements DocumentRegistry.IWidgetExtension<
  NotebookPanel,
  INotebookModel
> {
  constructor(
    private readonly _app: JupyterFrontEnd,
    private readonly _trans: TranslationBundle
  ) {}

  createNew(panel: NotebookPanel): IDisposable {
    const button = new ToolbarButton({
      className: 'jp-substratus-ExportButton',
      label: this._trans.__('Export to Model'),
      tooltip: this._trans.__(
        'Export this notebook to a Substratus Model (fine-tune with its code)'
      ),
      onClick: () =>
        void this._app.commands.execute(CommandIDs.exportNotebook, { path: panel.context.path })
    });
    panel.toolbar.insertAfter('cellType', 'substratus-export', button);
    return new DisposableDelegate(() => button.dispose());
  }
}

const plugin: JupyterFrontEndPlugin<IResourceStore> = {
  id: PLUGIN_ID,
  description: 'Models, Datasets, Servers and Notebooks of Substratus in JupyterLab.',
  autoStart: true,
  provides: IResourceStore,
  optional: [ISettingRegistry, ICommandPalette, ILayoutRestorer, INotebookTracker, ITranslator],
  activate: async (
    app: JupyterFrontEnd,
    registry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    notebooks: INotebookTracker | null,
    translator: ITranslator | null
  ): Promise<IResourceStore> => {
    const trans = (translator ?? nullTranslator).load('jupyter-substratus');
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
      namespace: () => current.namespace,
      trans
    });
    const store = new ResourceStore(client);
    const { shell } = app;

    const sidebar = new SubstratusSidebar(store, app.commands, () => current, trans);
    sidebar.id = 'jupyter-substratus-sidebar';
    sidebar.title.icon = substratusIcon;
    sidebar.title.caption = trans.__('Substratus');
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
        return;
      }
      const content = new DetailsPanel(store, kind, name, trans, {
        commands: app.commands,
        contents: app.serviceManager.contents
      });
      const widget = new MainAreaWidget({ content });
      widget.id = `substratus-details-${kind}-${name}`;
      widget.title.label = content.title.label;
      widget.title.icon = substratusIcon;
      void tracker.add(widget);
      shell.add(widget, 'main');
      shell.activateById(widget.id);
    };

    registerCommands({
      app,
      store,
      trans,
      sidebarId: sidebar.id,
      defaults: (): IDefaults => ({ gpuType: current.gpuType, gpuCount: current.gpuCount }),
      openDetails,
      notebooks,
      palette
    });
    app.docRegistry.addWidgetExtension('Notebook', new ExportButtonExtension(app, trans));
    return store;
  }
};

export default plugin;
