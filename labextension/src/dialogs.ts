/**
 * The create dialogs, one per action; each builds a manifest from its form and sends it. The
 * GPU types and default images are the server's (GET /).
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { IResource, IServerInfo } from './api/types';
import {
  gpuProblem,
  idleProblem,
  missingDependency,
  otherParamsProblem,
  paramField,
  paramProblem,
  resourceChoices,
  TrainerParam,
  typedParams
} from './logic/formChecks';
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
    {
      name: 'gpuCount',
      label: trans.__('GPU count'),
      kind: 'number',
      check: (count, values) => gpuProblem(values.gpuType ?? '', count, trans)
    }
  ];
}

/** A fine-tune's base model and dataset: what exists (ready first), or a name to come. */
export function dependencyFields(store: ResourceStore, trans: TranslationBundle): IFieldSpec[] {
  const field = (name: string, kind: 'Model' | 'Dataset', label: string): IFieldSpec => ({
    name,
    label,
    kind: 'choice',
    required: true,
    options: resourceChoices(store.lists[kind], trans),
    warn: value => missingDependency(kind, value, store.lists[kind], trans)
  });
  return [
    field('baseModel', 'Model', trans.__('Base model')),
    field('dataset', 'Dataset', trans.__('Dataset'))
  ];
}

/** One typed field per trainer param, folded together; empty keeps the trainer's default. */
function trainerParamFields(
  params: readonly TrainerParam[],
  trans: TranslationBundle
): IFieldSpec[] {
  const group = trans.__('Trainer params');
  return params.map(param => {
    const shown = param.default === undefined ? undefined : String(param.default);
    const byDefault =
      shown === undefined ? trans.__('trainer default') : trans.__('default %1', shown);
    const spec: IFieldSpec = {
      name: paramField(param.name),
      label: param.name,
      help: param.description,
      group,
      check: value => paramProblem(param, value, trans)
    };
    if (param.type === 'boolean') {
      return {
        ...spec,
        kind: 'select',
        options: [
          { value: '', label: byDefault },
          { value: 'true', label: 'true' },
          { value: 'false', label: 'false' }
        ]
      };
    }
    const numeric = param.type === 'integer' || param.type === 'number';
    return {
      ...spec,
      kind: numeric ? 'number' : 'text',
      min: param.minimum,
      max: param.maximum,
      placeholder: byDefault
    };
  });
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
      { name: 'name', label: trans.__('Name'), placeholder: 'squad', required: true },
      {
        name: 'urls',
        label: trans.__('URLs'),
        kind: 'textarea',
        required: true,
        placeholder: 'https://example.com/train.jsonl\nfile:///data/extra.jsonl\n/data/local.jsonl',
        help: trans.__(
          'One or more, one a line: http(s) URLs, file:// URLs or local paths; the loader copies them into the Dataset.'
        )
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
      { name: 'name', label: trans.__('Name'), placeholder: 'opt-125m', required: true },
      {
        name: 'source',
        label: trans.__('Hugging Face id or path'),
        placeholder: 'facebook/opt-125m',
        required: true,
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
  const params = info.trainerParams;
  return showFormDialog({
    title: baseModel ? trans.__('Fine-tune %1', baseModel) : trans.__('Fine-tune a Model'),
    acceptLabel: trans.__('Fine-tune'),
    fields: [
      {
        name: 'name',
        label: trans.__('New Model name'),
        placeholder: `${baseModel || 'model'}-tuned`,
        required: true
      },
      ...dependencyFields(store, trans),
      ...gpuFields(info, trans),
      ...trainerParamFields(params, trans),
      {
        name: 'params',
        label: trans.__('Other params'),
        kind: 'textarea',
        placeholder: 'warmup_ratio=0.1',
        help: trans.__('key=value, one a line: any other transformers TrainingArguments field'),
        check: value => otherParamsProblem(value, params, trans)
      }
    ],
    initial: {
      name: '',
      baseModel,
      dataset: '',
      params: '',
      gpuType: defaults.gpuType,
      gpuCount: String(defaults.gpuCount)
    },
    fieldPaths: {
      ...FIELD_PATHS.fineTune,
      ...Object.fromEntries(params.map(p => [paramField(p.name), [`spec.params.${p.name}`]]))
    },
    submit: v =>
      createAndShow(
        store,
        fineTuneManifest(
          {
            name: v.name,
            baseModel: v.baseModel,
            dataset: v.dataset,
            params: v.params,
            typedParams: typedParams(params, v),
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
      {
        name: 'name',
        label: trans.__('Server name'),
        placeholder: `${model || 'model'}-server`,
        required: true
      },
      {
        name: 'model',
        label: trans.__('Model'),
        kind: 'choice',
        required: true,
        options: resourceChoices(store.lists.Model, trans)
      },
      ...gpuFields(info, trans),
      {
        name: 'image',
        label: trans.__('Image (optional)'),
        placeholder: trans.__('chosen by the server'),
        help: trans.__(
          'Empty: the vLLM image for a Server with a GPU on a cluster, %1 otherwise (the local backend always runs %1).',
          info.images.server
        )
      }
    ],
    initial: {
      name: model ? `${model}-server` : '',
      model,
      gpuType: defaults.gpuType,
      gpuCount: String(defaults.gpuCount),
      image: ''
    },
    fieldPaths: FIELD_PATHS.server,
    submit: v =>
      createAndShow(
        store,
        serverManifest({
          name: v.name,
          model: v.model,
          gpuType: v.gpuType,
          gpuCount: v.gpuCount,
          image: v.image
        })
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
      { name: 'name', label: trans.__('Name'), placeholder: 'explore', required: true },
      {
        name: 'model',
        label: trans.__('Model (optional, mounted)'),
        kind: 'choice',
        options: resourceChoices(store.lists.Model, trans)
      },
      {
        name: 'dataset',
        label: trans.__('Dataset (optional, mounted)'),
        kind: 'choice',
        options: resourceChoices(store.lists.Dataset, trans)
      },
      {
        name: 'suspendAfterIdle',
        label: trans.__('Suspend after idle (optional)'),
        placeholder: '30m',
        help: trans.__(
          'With no kernel busy and no request for this long the pod stops; the work is kept (clusters only)'
        ),
        check: value => idleProblem(value, trans)
      },
      ...gpuFields(info, trans)
    ],
    initial: {
      name: '',
      model: '',
      dataset: '',
      suspendAfterIdle: '',
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
            suspendAfterIdle: v.suspendAfterIdle,
            gpuType: v.gpuType,
            gpuCount: v.gpuCount
          },
          info.images
        )
      ),
    trans
  });
}
