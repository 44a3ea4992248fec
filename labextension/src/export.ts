/**
 * "Export to Model": a notebook becomes a fine-tuning Model. A dialog for the Model, then
 * one notification that follows it through upload, build and training.
 */
import { Notification } from '@jupyterlab/apputils';
import { CommandRegistry } from '@lumino/commands';

import { IResource } from './api/types';
import { gpuFields, IDefaults } from './dialogs';
import { exportMessage, exportStep, IUploadState, uploadPending } from './logic/exportProgress';
import { defaultModelName, FIELD_PATHS, fineTuneManifest } from './logic/manifests';
import { ResourceStore } from './model';
import { showFormDialog } from './widgets/form';
import { CommandIDs } from './commands';

export async function exportNotebook(
  store: ResourceStore,
  commands: CommandRegistry,
  defaults: IDefaults,
  path: string
): Promise<IResource | undefined> {
  let created: IResource | undefined;
  // What goes in, so nothing is sent unseen; the export itself reports any error.
  const listing = await store.client.exportListing(path).catch(() => undefined);
  const values = await showFormDialog({
    title: `Export ${path.split('/').pop()} to a Model`,
    acceptLabel: 'Export',
    fields: [
      { name: 'name', label: 'Model name' },
      { name: 'baseModel', label: 'Base model' },
      { name: 'dataset', label: 'Dataset' },
      {
        name: 'params',
        label: 'Params',
        kind: 'textarea',
        placeholder: 'epochs=1',
        help: 'key=value, one a line; the notebook reads them from /content/params.json'
      },
      ...gpuFields()
    ],
    initial: {
      name: defaultModelName(path),
      baseModel: '',
      dataset: '',
      params: '',
      gpuType: defaults.gpuType,
      gpuCount: String(defaults.gpuCount)
    },
    fieldPaths: FIELD_PATHS.export,
    note: listing && {
      summary: `Sends ${listing.files.length} files (${(listing.bytes / 1e6).toFixed(1)} MB); hidden files stay out`,
      items: listing.files
    },
    submit: async v => {
      const model = fineTuneManifest({
        name: v.name,
        baseModel: v.baseModel,
        dataset: v.dataset,
        params: v.params,
        gpuType: v.gpuType,
        gpuCount: v.gpuCount
      });
      // The server builds the image from the notebook: spec.build replaces spec.image.
      delete model.spec.image;
      created = await store.client.exportNotebook({ path, model });
      store.upsert(created ?? model);
    }
  });
  if (!values || !created) {
    return undefined;
  }
  followExport(store, commands, created.metadata.name);
  return created;
}

/**
 * One notification, updated as the Model moves: the upload (from GET /export/{name}), then the
 * Model's conditions (from the push channel); it ends with a link to the Model.
 */
export function followExport(store: ResourceStore, commands: CommandRegistry, name: string): void {
  let upload: IUploadState | undefined;
  let finished = false;
  let lastMessage = '';
  const id = Notification.emit(`Model ${name}: uploading…`, 'in-progress', {
    autoClose: false,
    actions: [openAction(commands, name)]
  });
  const show = () => {
    if (finished) {
      return;
    }
    const { step, detail } = exportStep(store.find('Model', name), upload);
    const message = exportMessage(name, step, detail);
    finished = step === 'done' || step === 'failed';
    if (finished) {
      store.changed.disconnect(show);
    }
    if (message === lastMessage && !finished) {
      return;
    }
    lastMessage = message;
    Notification.update({
      id,
      message,
      type: step === 'done' ? 'success' : step === 'failed' ? 'error' : 'in-progress',
      autoClose: finished ? 15000 : false,
      actions: [openAction(commands, name)]
    });
  };
  const pollUpload = async () => {
    while (!finished && uploadPending(upload)) {
      try {
        upload = await store.client.exportStatus(name);
      } catch {
        break; // the server restarted: the Model's conditions tell the rest
      }
      show();
      await new Promise(resolve => setTimeout(resolve, 1000));
    }
  };
  store.changed.connect(show);
  show();
  void pollUpload();
}

function openAction(commands: CommandRegistry, name: string): Notification.IAction {
  return {
    label: `Open Model ${name}`,
    callback: () => void commands.execute(CommandIDs.details, { kind: 'Model', name })
  };
}
