/**
 * "Export to Model": a notebook becomes a fine-tuning Model. A dialog for the Model, then
 * one notification that follows it through upload, build and training.
 */
import { Notification } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { CommandRegistry } from '@lumino/commands';

import { IResource } from './api/types';
import { dependencyFields, gpuFields, IDefaults } from './dialogs';
import { exportMessage, exportStep, IUploadState, uploadPending } from './logic/exportProgress';
import { defaultModelName, FIELD_PATHS, fineTuneManifest } from './logic/manifests';
import { ResourceStore } from './model';
import { showFormDialog } from './widgets/form';
import { CommandIDs } from './commands';

export async function exportNotebook(
  store: ResourceStore,
  commands: CommandRegistry,
  defaults: IDefaults,
  path: string,
  trans: TranslationBundle
): Promise<IResource | undefined> {
  let created: IResource | undefined;
  const info = store.info ?? (await store.loadInfo());
  // What goes in, so nothing is sent unseen; the export itself reports any error.
  const listing = await store.client.exportListing(path).catch(() => undefined);
  const values = await showFormDialog({
    title: trans.__('Export %1 to a Model', path.split('/').pop()),
    acceptLabel: trans.__('Export'),
    trans,
    fields: [
      { name: 'name', label: trans.__('Model name'), required: true },
      ...dependencyFields(store, trans),
      {
        name: 'params',
        label: trans.__('Params'),
        kind: 'textarea',
        placeholder: 'epochs=1',
        help: trans.__('key=value, one a line; the notebook reads them from /content/params.json')
      },
      ...gpuFields(info, trans)
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
      summary: trans.__(
        'Sends %1 files (%2 MB); hidden files stay out',
        listing.files.length,
        (listing.bytes / 1e6).toFixed(1)
      ),
      items: listing.files
    },
    submit: async v => {
      const model = fineTuneManifest(
        {
          name: v.name,
          baseModel: v.baseModel,
          dataset: v.dataset,
          params: v.params,
          gpuType: v.gpuType,
          gpuCount: v.gpuCount
        },
        info.images,
        trans
      );
      // The server builds the image from the notebook: spec.build replaces spec.image.
      delete model.spec.image;
      created = await store.client.exportNotebook({ path, model });
      store.upsert(created ?? model);
    }
  });
  if (!values || !created) {
    return undefined;
  }
  followExport(store, commands, created.metadata.name, trans);
  return created;
}

/**
 * One notification, updated as the Model moves: the upload (from GET /export/{name}), then the
 * Model's conditions (from the push channel); it ends with a link to the Model.
 */
export function followExport(
  store: ResourceStore,
  commands: CommandRegistry,
  name: string,
  trans: TranslationBundle
): void {
  let upload: IUploadState | undefined;
  let finished = false;
  let lastMessage = '';
  const id = Notification.emit(trans.__('Model %1: uploading…', name), 'in-progress', {
    autoClose: false,
    actions: [openAction(commands, name, trans)]
  });
  const show = () => {
    if (finished) {
      return;
    }
    const { step, detail } = exportStep(store.find('Model', name), upload, trans);
    const message = exportMessage(name, step, detail, trans);
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
      actions: [openAction(commands, name, trans)]
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

function openAction(
  commands: CommandRegistry,
  name: string,
  trans: TranslationBundle
): Notification.IAction {
  return {
    label: trans.__('Open Model %1', name),
    callback: () => void commands.execute(CommandIDs.details, { kind: 'Model', name })
  };
}
