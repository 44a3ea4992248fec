/**
 * The substratus.ai/v1 resources as the REST API returns them (Kubernetes-shaped JSON).
 */

export const API_VERSION = 'substratus.ai/v1';

export type Kind = 'Dataset' | 'Model' | 'Server' | 'Notebook';

/** Sidebar order: data first, then what is made from it. */
export const KINDS: readonly Kind[] = ['Dataset', 'Model', 'Server', 'Notebook'];

export const PLURALS: Record<Kind, string> = {
  Dataset: 'datasets',
  Model: 'models',
  Server: 'servers',
  Notebook: 'notebooks'
};

export const GPU_TYPES = [
  'nvidia-t4',
  'nvidia-l4',
  'nvidia-a100',
  'nvidia-h100'
] as const;
export type GpuType = (typeof GPU_TYPES)[number];

export const DEFAULT_IMAGES = {
  modelLoader: 'substratusai/model-loader-huggingface',
  datasetLoader: 'substratusai/dataset-loader-http',
  trainer: 'substratusai/model-trainer-huggingface',
  server: 'substratusai/model-server',
  notebook: 'substratusai/notebook-base'
} as const;

export type ParamValue = string | number | boolean;

export interface ICondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface IObjectRef {
  name: string;
}

export interface ISpec {
  image?: string;
  build?: Record<string, unknown>;
  command?: string[];
  env?: Record<string, string>;
  params?: Record<string, ParamValue>;
  resources?: {
    cpu?: number;
    memory?: number;
    disk?: number;
    gpu?: { type: GpuType | string; count: number };
  };
  model?: IObjectRef;
  dataset?: IObjectRef;
  suspend?: boolean;
}

export interface IStatus {
  ready?: boolean;
  image?: string;
  conditions?: ICondition[];
  artifacts?: { url?: string };
  url?: string;
}

export interface IResource {
  apiVersion: string;
  kind: Kind;
  metadata: {
    name: string;
    namespace?: string;
    creationTimestamp?: string;
    resourceVersion?: string;
    [key: string]: unknown;
  };
  spec: ISpec;
  status?: IStatus;
}

/** One field's problem, as the API names it: a dotted path and a message. */
export interface IFieldError {
  path: string;
  message: string;
}
