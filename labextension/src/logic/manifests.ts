/**
 * Form values to manifests, for each dialog. Pure: the dialogs call these, the API
 * validates the result, and its field errors come back to the fields named here.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { API_VERSION, GpuType, IResource, IServerInfo, ISpec, Kind } from '../api/types';

/** The built-in images the server names (GET /): each dialog's default. */
export type Images = IServerInfo['images'];

export type ParamValue = string | number | boolean;

/** Parse "key=value" lines (or a JSON object) into params; numbers and booleans typed. */
export function parseParams(text: string, trans: TranslationBundle): Record<string, ParamValue> {
  const trimmed = text.trim();
  if (!trimmed) {
    return {};
  }
  if (trimmed.startsWith('{')) {
    const value = JSON.parse(trimmed);
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      throw new Error(trans.__('params must be a JSON object'));
    }
    return value as Record<string, ParamValue>;
  }
  const params: Record<string, ParamValue> = {};
  for (const raw of trimmed.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) {
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) {
      throw new Error(trans.__('"%1": write params as key=value, one a line', line));
    }
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    params[key] = typedValue(value);
  }
  return params;
}

function typedValue(value: string): ParamValue {
  if (value === 'true' || value === 'false') {
    return value === 'true';
  }
  if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(value)) {
    return Number(value);
  }
  return value;
}

export function formatParams(params: Record<string, unknown> | undefined): string {
  return Object.entries(params ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
}

function manifest(kind: Kind, name: string, spec: ISpec): IResource {
  return { apiVersion: API_VERSION, kind, metadata: { name: name.trim() }, spec };
}

export interface IGpuValues {
  gpuType: string;
  gpuCount: string | number;
}

function withGpu(spec: ISpec, v: IGpuValues): ISpec {
  const count = Number(v.gpuCount);
  if (v.gpuType && v.gpuType !== 'none' && String(v.gpuCount) !== '' && count !== 0) {
    spec.resources = { gpu: { type: v.gpuType as GpuType, count } };
  }
  return spec;
}

export interface IDatasetValues {
  name: string;
  urls: string;
  image?: string;
}

export function datasetManifest(v: IDatasetValues, images: Images): IResource {
  const urls = v.urls
    .split(/[\s,]+/)
    .map(u => u.trim())
    .filter(Boolean);
  return manifest('Dataset', v.name, {
    image: v.image?.trim() || images.datasetLoader,
    params: { urls: urls.join(',') }
  });
}

export interface IImportModelValues {
  name: string;
  source: string;
  image?: string;
}

export function importModelManifest(v: IImportModelValues, images: Images): IResource {
  return manifest('Model', v.name, {
    image: v.image?.trim() || images.modelLoader,
    params: { name: v.source.trim() }
  });
}

export interface IFineTuneValues extends IGpuValues {
  name: string;
  baseModel: string;
  dataset: string;
  /** "key=value" lines (or a JSON object). */
  params: string;
  /** Params already typed (the form's trainer param fields); they win over `params`' keys. */
  typedParams?: Record<string, ParamValue>;
  image?: string;
}

export function fineTuneManifest(
  v: IFineTuneValues,
  images: Images,
  trans: TranslationBundle
): IResource {
  const spec: ISpec = {
    image: v.image?.trim() || images.trainer,
    model: { name: v.baseModel.trim() },
    dataset: { name: v.dataset.trim() }
  };
  const params = { ...parseParams(v.params, trans), ...v.typedParams };
  if (Object.keys(params).length) {
    spec.params = params;
  }
  return manifest('Model', v.name, withGpu(spec, v));
}

export interface IServerValues extends IGpuValues {
  name: string;
  model: string;
  image?: string;
}

/**
 * A Server names an image only when the user typed one: without, the server decides (the vLLM
 * image for a GPU on a cluster, the transformers model server otherwise; api/images.py).
 */
export function serverManifest(v: IServerValues): IResource {
  const spec: ISpec = { model: { name: v.model.trim() } };
  if (v.image?.trim()) {
    spec.image = v.image.trim();
  }
  return manifest('Server', v.name, withGpu(spec, v));
}

export interface INotebookValues extends IGpuValues {
  name: string;
  model?: string;
  dataset?: string;
  /** spec.suspendAfterIdle (e.g. 30m); empty: never suspended for idleness. */
  suspendAfterIdle?: string;
}

export function notebookManifest(v: INotebookValues, images: Images): IResource {
  const spec: ISpec = { image: images.notebook };
  if (v.model?.trim()) {
    spec.model = { name: v.model.trim() };
  }
  if (v.dataset?.trim()) {
    spec.dataset = { name: v.dataset.trim() };
  }
  if (v.suspendAfterIdle?.trim()) {
    spec.suspendAfterIdle = v.suspendAfterIdle.trim();
  }
  return manifest('Notebook', v.name, withGpu(spec, v));
}

/** The same paths under a prefix: the export API names the Model's fields "model.spec...". */
export function prefixPaths(
  paths: Record<string, string[]>,
  prefix: string
): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(paths).map(([field, list]) => [field, list.map(p => `${prefix}.${p}`)])
  );
}

/** The manifest paths each dialog field fills, so API errors land beside the field. */
export const FIELD_PATHS: Record<string, Record<string, string[]>> = {
  dataset: {
    name: ['metadata.name', 'metadata'],
    urls: ['spec.params.urls', 'spec.params'],
    image: ['spec.image']
  },
  importModel: {
    name: ['metadata.name', 'metadata'],
    source: ['spec.params.name', 'spec.params'],
    image: ['spec.image']
  },
  fineTune: {
    name: ['metadata.name', 'metadata'],
    baseModel: ['spec.model'],
    dataset: ['spec.dataset'],
    params: ['spec.params'],
    gpuType: ['spec.resources.gpu.type', 'spec.resources.gpu', 'spec.resources'],
    gpuCount: ['spec.resources.gpu.count'],
    image: ['spec.image']
  },
  server: {
    name: ['metadata.name', 'metadata'],
    model: ['spec.model'],
    gpuType: ['spec.resources.gpu.type', 'spec.resources.gpu', 'spec.resources'],
    gpuCount: ['spec.resources.gpu.count'],
    image: ['spec.image']
  },
  export: {
    ...prefixPaths(
      {
        name: ['metadata.name', 'metadata'],
        baseModel: ['spec.model'],
        dataset: ['spec.dataset'],
        params: ['spec.params'],
        gpuType: ['spec.resources.gpu.type', 'spec.resources.gpu', 'spec.resources'],
        gpuCount: ['spec.resources.gpu.count']
      },
      'model'
    )
  },
  notebook: {
    name: ['metadata.name', 'metadata'],
    model: ['spec.model'],
    dataset: ['spec.dataset'],
    suspendAfterIdle: ['spec.suspendAfterIdle'],
    gpuType: ['spec.resources.gpu.type', 'spec.resources.gpu', 'spec.resources'],
    gpuCount: ['spec.resources.gpu.count']
  }
};

/** A DNS-1123 default Model name from a notebook path. */
export function defaultModelName(path: string): string {
  const base =
    path
      .split('/')
      .pop()
      ?.replace(/\.ipynb$/, '') ?? 'model';
  const name = base
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 50)
    .replace(/-+$/, '');
  return name || 'model';
}
