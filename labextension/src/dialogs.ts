/**
 * The create dialogs, one per action; each builds a manifest from its form and sends it.
 */
import { GPU_TYPES, IResource } from './api/types';
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

const GPU_OPTIONS = [
  { value: 'none', label: 'No GPU' },
  ...GPU_TYPES.map(t => ({ value: t, label: t }))
];

export function gpuFields(): IFieldSpec[] {
  return [
    { name: 'gpuType', label: 'GPU type', kind: 'select', options: GPU_OPTIONS },
    { name: 'gpuCount', label: 'GPU count', kind: 'number' }
  ];
}

function names(store: ResourceStore, kind: 'Model' | 'Dataset', readyOnly = false): string {
  return store.lists[kind]
    .filter(r => !readyOnly || r.status?.ready)
    .map(r => r.metadata.name)
    .join(', ');
}

async function createAndShow(
  store: ResourceStore,
  resource: IResource
): Promise<IResource> {
  const created = await store.client.create(resource);
  store.upsert(created ?? resource);
  return created;
}

export function createDatasetDialog(store: ResourceStore): Promise<unknown> {
  return showFormDialog({
    title: 'Create a Dataset',
    acceptLabel: 'Create',
    fields: [
      { name: 'name', label: 'Name', placeholder: 'squad' },
      {
        name: 'urls',
        label: 'URLs',
        kind: 'textarea',
        placeholder: 'https://example.com/train.jsonl',
        help: 'One or more http(s) URLs; the loader downloads them into the Dataset.'
      }
    ],
    initial: { name: '', urls: '' },
    fieldPaths: FIELD_PATHS.dataset,
    submit: v => createAndShow(store, datasetManifest({ name: v.name, urls: v.urls }))
  });
}

export function importModelDialog(store: ResourceStore): Promise<unknown> {
  return showFormDialog({
    title: 'Import a Model',
    acceptLabel: 'Import',
    fields: [
      { name: 'name', label: 'Name', placeholder: 'opt-125m' },
      {
        name: 'source',
        label: 'Hugging Face id or path',
        placeholder: 'facebook/opt-125m',
        help: 'A model id on the Hugging Face hub, or a local directory.'
      }
    ],
    initial: { name: '', source: '' },
    fieldPaths: FIELD_PATHS.importModel,
    submit: v => createAndShow(store, importModelManifest({ name: v.name, source: v.source }))
  });
}

export function fineTuneDialog(
  store: ResourceStore,
  defaults: IDefaults,
  baseModel = ''
): Promise<unknown> {
  return showFormDialog({
    title: baseModel ? `Fine-tune ${baseModel}` : 'Fine-tune a Model',
    acceptLabel: 'Fine-tune',
    fields: [
      { name: 'name', label: 'New Model name', placeholder: `${baseModel || 'model'}-tuned` },
      { name: 'baseModel', label: 'Base model', help: `Ready: ${names(store, 'Model', true) || 'none yet'}` },
      { name: 'dataset', label: 'Dataset', help: `Known: ${names(store, 'Dataset') || 'none yet'}` },
      {
        name: 'params',
        label: 'Params',
        kind: 'textarea',
        placeholder: 'epochs=1\nlearning_rate=0.0002',
        help: 'key=value, one a line'
      },
      ...gpuFields()
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
        fineTuneManifest({
          name: v.name,
          baseModel: v.baseModel,
          dataset: v.dataset,
          params: v.params,
          gpuType: v.gpuType,
          gpuCount: v.gpuCount
        })
      )
  });
}

export function deployServerDialog(
  store: ResourceStore,
  defaults: IDefaults,
  model = ''
): Promise<unknown> {
  return showFormDialog({
    title: model ? `Deploy a Server for ${model}` : 'Deploy a Server',
    acceptLabel: 'Deploy',
    fields: [
      { name: 'name', label: 'Server name', placeholder: `${model || 'model'}-server` },
      { name: 'model', label: 'Model', help: `Ready: ${names(store, 'Model', true) || 'none yet'}` },
      ...gpuFields()
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
        serverManifest({
          name: v.name,
          model: v.model,
          gpuType: v.gpuType,
          gpuCount: v.gpuCount
        })
      )
  });
}

export function createNotebookDialog(store: ResourceStore, defaults: IDefaults): Promise<unknown> {
  return showFormDialog({
    title: 'Start a GPU Notebook',
    acceptLabel: 'Start',
    fields: [
      { name: 'name', label: 'Name', placeholder: 'explore' },
      { name: 'model', label: 'Model (optional, mounted)' },
      { name: 'dataset', label: 'Dataset (optional, mounted)' },
      ...gpuFields()
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
        notebookManifest({
          name: v.name,
          model: v.model,
          dataset: v.dataset,
          gpuType: v.gpuType,
          gpuCount: v.gpuCount
        })
      )
  });
}
