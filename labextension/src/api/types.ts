/**
 * The substratus.ai/v1 resources as the REST API returns them (Kubernetes-shaped JSON). The
 * shapes come from ./schema (generated from openapi.yaml and the CRDs by `jlpm build:types`).
 */
import type { components } from './schema';

type Schemas = components['schemas'];

/** Where the REST API lives under the Jupyter server's base URL. */
export const API_ROOT = 'substratus/api/v1';

export const API_VERSION: Schemas['Resource']['apiVersion'] = 'substratus.ai/v1';

export type Kind = Schemas['Resource']['kind'];

/** Sidebar order: data first, then what is made from it. */
export const KINDS: readonly Kind[] = ['Dataset', 'Model', 'Server', 'Notebook'];

export const PLURALS: Record<Kind, components['parameters']['plural']> = {
  Dataset: 'datasets',
  Model: 'models',
  Server: 'servers',
  Notebook: 'notebooks'
};

/** Any kind's spec: the fields of all four, each optional. */
export type ISpec = Partial<
  Schemas['ModelSpec'] & Schemas['DatasetSpec'] & Schemas['ServerSpec'] & Schemas['NotebookSpec']
>;

/** Any kind's status: the fields of all four, each optional. */
export type IStatus = Partial<
  Schemas['ModelStatus'] &
    Schemas['DatasetStatus'] &
    Schemas['ServerStatus'] &
    Schemas['NotebookStatus']
>;

export type ICondition = NonNullable<IStatus['conditions']>[number];

export type GpuType = NonNullable<NonNullable<ISpec['resources']>['gpu']>['type'];

export interface IResource {
  apiVersion: Schemas['Resource']['apiVersion'];
  kind: Kind;
  metadata: Schemas['Resource']['metadata'];
  spec: ISpec;
  status?: IStatus;
}

/** One field's problem, as the API names it: a dotted path and a message. */
export type IFieldError = NonNullable<Schemas['Error']['errors']>[number];

/** GET /: the backend, the namespace and the facts (images, GPU types, kinds' traits, reasons). */
export type IServerInfo = Schemas['Info'];

/** GET /export/{name}: the upload step (waiting, uploading, skipped, done, failed). */
export type IExportStatus = Schemas['ExportStatus'];

/** POST /export with dryRun: the build context's files (hidden ones left out unless re-included). */
export type IExportListing = Schemas['ExportListing'];

export interface IExportRequest {
  /** Notebook path relative to the Jupyter server root. */
  path: Schemas['ExportRequest']['path'];
  /** The Model to create; its spec.build is filled in by the server. */
  model: IResource;
}
