/**
 * What the tests give the pure functions in place of the running server and JupyterLab.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { ICondition, IServerInfo } from '../src/api/types';

/**
 * English, with %1, %2… filled in, as JupyterLab's nullTranslator bundle does (that package is
 * an ES module, which jest's CommonJS run does not load).
 */
export const trans = {
  __: (text: string, ...args: unknown[]) =>
    text.replace(/%(\d+)/g, (_, i) => String(args[Number(i) - 1]))
} as unknown as TranslationBundle;

/** A sample of GET / (tests/extension/test_facts.py checks what the server really serves). */
export const info: IServerInfo = {
  apiVersion: 'substratus.ai/v1',
  backend: 'kubernetes',
  namespace: 'default',
  kinds: [
    { kind: 'Model', plural: 'models', runToCompletion: true, immutableSpec: true },
    { kind: 'Dataset', plural: 'datasets', runToCompletion: true, immutableSpec: true },
    { kind: 'Server', plural: 'servers', runToCompletion: false, immutableSpec: false },
    { kind: 'Notebook', plural: 'notebooks', runToCompletion: false, immutableSpec: false }
  ],
  images: {
    modelLoader: 'substratusai/model-loader-huggingface',
    datasetLoader: 'substratusai/dataset-loader-http',
    trainer: 'substratusai/model-trainer-huggingface',
    server: 'substratusai/model-server',
    notebook: 'substratusai/notebook-base'
  },
  gpuTypes: ['nvidia-t4', 'nvidia-l4'],
  reasons: {
    failed: ['JobFailed', 'BuildFailed', 'Interrupted'],
    pending: ['WaitingForDependency', 'DependencyNotFound'],
    building: ['Building', 'AwaitingUpload'],
    suspended: ['Suspended']
  },
  trainerParams: [
    {
      name: 'learning_rate',
      type: 'number',
      default: 5e-5,
      minimum: 0,
      description: "the optimizer's initial learning rate"
    },
    { name: 'max_steps', type: 'integer', default: -1, minimum: -1, description: 'steps' },
    { name: 'lora_dropout', type: 'number', minimum: 0, maximum: 1, description: 'dropout' },
    { name: 'merge_adapter', type: 'boolean', default: true, description: 'merge' },
    { name: 'lr_scheduler_type', type: 'string', default: 'linear', description: 'schedule' }
  ]
};

export function cond(
  type: string,
  status: ICondition['status'],
  reason: string,
  message = ''
): ICondition {
  return { type, status, reason, message, lastTransitionTime: '2026-01-01T00:00:00Z' };
}
