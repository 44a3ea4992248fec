/**
 * The create dialogs, one per action; each builds a manifest from its form and sends it. The
 * GPU types and default images are the server's (GET /).
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { IResource, IServerInfo } from './api/types';
import {
  datasetManifest,
  FIELD_PATHS,
  fineTuneManifest,
  importModelManifest,
  notebookManifest,
  serverManifest
} from './logic/manifests';
import { ResourceStore } from './model';
import { IFieldSpec, showFormDialog } from './widgets/form';

export interface IDefaults {
  gpuType: string;
  gpuCount: number;
}

export function gpuFields(info: IServerInfo, trans: TranslationBundle): IFieldSpec[] {
  const options = [
    { value: 'none', label: trans.__('No GPU') },
    ...info.gpuTypes.map(t => ({ value: t, label: t }))
  ];
  return [
    { name: 'gpuType', label: trans.__('GPU type'), kind: 'select', options },
    { name: 'gpuCount', label: trans.__('GPU count'), kind: 'number' }
  ];
}

function names(
  store: ResourceStore,
  kind: 'Model' | 'Dataset',
  trans: TranslationBundle,
  readyOnly = false
): string {
  const known = store.lists[kind]
    .filter(r => !readyOnly || r.status?.ready)
    .map(r => r.metadata.name)
    .join(', ');
  return known || trans.__('none yet');
}

async function createAndShow(store: ResourceStore, resource: IResource): Promise<IResource> {
  const created = await store.client.create(resource);
  store.upsert(created ?? resource);
  return created;
}

export async function createDatasetDialog(
  store: ResourceStore,
  trans: TranslationBundle
): Promise<unknown> {
  const info = store.info ?? (await store.loadInfo());
  return showFormDialog({
    title: trans.__('Create a Dataset'),
    acceptLabel: trans.__('Create'),
    fields: [
      { name: 'name', label: trans.__('Name'), placeholder: 'squad' },
      {
        name: 'urls',
        label: trans.__('URLs'),
        kind: 'textarea',
        placeholder: 'https://example.com/train.jsonl',
        help: trans.__('One or more http(s) URLs; the loader downloads them into the Dataset.')
      }
    ],
    initial: { name: '', urls: '' },
    fieldPaths: FIELD_PATHS.dataset,
    submit: v => createAndShow(store, datasetManifest({ name: v.name, urls: v.urls }, info.images)),
    trans
  });
}

export async function importModelDialog(
  store: ResourceStore,
  trans: TranslationBundle
): Promise<unknown> {
  const info = store.info ?? (await store.loadInfo());
  return showFormDialog({
    title: trans.__('Import a Model'),
    acceptLabel: trans.__('Import'),
    fields: [
      { name: 'name', label: trans.__('Name'), placeholder: 'opt-125m' },
      {
        name: 'source',
        label: trans.__('Hugging Face id or path'),
        placeholder: 'facebook/opt-125m',
        help: trans.__('A model id on the Hugging Face hub, or a local directory.')
      }
    ],
    initial: { name: '', source: '' },
    fieldPaths: FIELD_PATHS.importModel,
    submit: v =>
      createAndShow(store, importModelManifest({ name: v.name, source: v.source }, info.images)),
    trans
  });
}

export async function fineTuneDialog(
  store: ResourceStore,
  trans: TranslationBundle,
  defaults: IDefaults,
  baseModel = ''
): Promise<unknown> {
  const info = store.info ?? (await store.loadInfo());
  return showFormDialog({
    title: baseModel ? trans.__('Fine-tune %1', baseModel) : trans.__('Fine-tune a Model'),
    acceptLabel: trans.__('Fine-tune'),
    fields: [
      {
        name: 'name',
        label: trans.__('New Model name'),
        placeholder: `${baseModel || 'model'}-tuned`
      },
      {
        name: 'baseModel',
        label: trans.__('Base model'),
        help: trans.__('Ready: %1', names(store, 'Model', trans, true))
      },
      {
        name: 'dataset',
        label: trans.__('Dataset'),
        help: trans.__('Known: %1', names(store, 'Dataset', trans))
      },
      {
        name: 'params',
        label: trans.__('Params'),
        kind: 'textarea',
        placeholder: 'epochs=1\nlearning_rate=0.0002',
        help: trans.__('key=value, one a line')
      },
      ...gpuFields(info, trans)
    ],
    initial: {
      name: '',
      baseModel,
      dataset: '',
      params: '',
      gpuType: defaults.gpuType,
      gpuCount: String(defaults.gpuCount)
    },
    fieldPaths: FIELD_PATHS.fineTune,
    submit: v =>
      createAndShow(
        store,
        fineTuneManifest(
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
        )
      ),
    trans
  });
}

export async function deployServerDialog(
  store: ResourceStore,
  trans: TranslationBundle,
  defaults: IDefaults,
  model = ''
): Promise<unknown> {
  const info = store.info ?? (await store.loadInfo());
  return showFormDialog({
    title: model ? trans.__('Deploy a Server for %1', model) : trans.__('Deploy a Server'),
    acceptLabel: trans.__('Deploy'),
    fields: [
      { name: 'name', label: trans.__('Server name'), placeholder: `${model || 'model'}-server` },
      {
        name: 'model',
        label: trans.__('Model'),
        help: trans.__('Ready: %1', names(store, 'Model', trans, true))
      },
      ...gpuFields(info, trans)
    ],
    initial: {
      name: model ? `${model}-server` : '',
      model,
      gpuType: defaults.gpuType,
      gpuCount: String(defaults.gpuCount)
    },
    fieldPaths: FIELD_PATHS.server,
    submit: v =>
      createAndShow(
        store,
        serverManifest(
          { name: v.name, model: v.model, gpuType: v.gpuType, gpuCount: v.gpuCount },
          info.images
        )
      ),
    trans
  });
}

export async function createNotebookDialog(
  store: ResourceStore,
  trans: TranslationBundle,
  defaults: IDefaults
): Promise<unknown> {
  const info = store.info ?? (await store.loadInfo());
  return showFormDialog({
    title: trans.__('Start a GPU Notebook'),
    acceptLabel: trans.__('Start'),
    fields: [
      { name: 'name', label: trans.__('Name'), placeholder: 'explore' },
      { name: 'model', label: trans.__('Model (optional, mounted)') },
      { name: 'dataset', label: trans.__('Dataset (optional, mounted)') },
      ...gpuFields(info, trans)
    ],
    initial: {
      name: '',
      model: '',
      dataset: '',
      gpuType: defaults.gpuType,
      gpuCount: String(defaults.gpuCount)
    },
    fieldPaths: FIELD_PATHS.notebook,
    submit: v =>
      createAndShow(
        store,
        notebookManifest(
          {
            name: v.name,
            model: v.model,
            dataset: v.dataset,
            gpuType: v.gpuType,
            gpuCount: v.gpuCount
          },
          info.images
        )
      ),
    trans
  });
}
