/**
 * The only way the front end talks to the back end: the REST API under
 * /substratus/api/v1 of the Jupyter server.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';

import { errorMessageOf, fieldErrorsOf, statusMessage } from '../logic/errors';
import {
  API_ROOT,
  IExportListing,
  IExportRequest,
  IExportStatus,
  IFieldError,
  IResource,
  IServerInfo,
  Kind,
  PLURALS
} from './types';

export { API_ROOT };

/** An error answer of the API: its message and, for validation errors, field paths. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fieldErrors: IFieldError[] = [],
    readonly body: unknown = undefined
  ) {
    super(message);
  }
}

export interface IClientOptions {
  serverSettings?: ServerConnection.ISettings;
  /** Kubernetes namespace; empty means the back end's default. */
  namespace?: () => string;
  /** The messages of connection errors. */
  trans?: TranslationBundle;
}

/** The prompt box's controls, as the OpenAI completions API names them. */
export interface ICompletionOptions {
  maxTokens?: number;
  temperature?: number;
  stream?: boolean;
}

export class SubstratusClient {
  constructor(options: IClientOptions = {}) {
    this.serverSettings = options.serverSettings ?? ServerConnection.makeSettings();
    this._namespace = options.namespace ?? (() => '');
    this._trans = options.trans ?? nullTranslator.load('jupyter-substratus');
  }

  readonly serverSettings: ServerConnection.ISettings;

  /** The absolute URL of an API path, with the namespace as a query parameter. */
  url(path: string, query: Record<string, string> = {}): string {
    const ns = this._namespace();
    const q = { ...(ns ? { namespace: ns } : {}), ...query };
    const qs = URLExt.objectToQueryString(q);
    return URLExt.join(this.serverSettings.baseUrl, API_ROOT, path) + qs;
  }

  async request<T>(path: string, init: RequestInit = {}, query = {}): Promise<T> {
    const response = await this.fetch(path, init, query);
    if (response.status === 204) {
      return undefined as T;
    }
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** A raw fetch (for streams); rejects with ApiError on an error status. */
  async fetch(path: string, init: RequestInit = {}, query = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (init.body && !headers.has('Content-Type')) {
      headers.set('Content-Type', 'application/json');
    }
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        this.url(path, query),
        { ...init, headers },
        this.serverSettings
      );
    } catch (error) {
      throw new ApiError(0, this._trans.__('cannot reach the Substratus API: %1', String(error)));
    }
    if (!response.ok) {
      throw await toApiError(response, this._trans);
    }
    return response;
  }

  /** Which backend the server uses, its default namespace, the kinds it serves. */
  info(): Promise<IServerInfo> {
    return this.request('');
  }

  async list(kind: Kind): Promise<IResource[]> {
    const body = await this.request<{ items?: IResource[] } | IResource[]>(PLURALS[kind]);
    const items = Array.isArray(body) ? body : (body?.items ?? []);
    return items.map(r => ({ ...r, kind: r.kind ?? kind }));
  }

  get(kind: Kind, name: string): Promise<IResource> {
    return this.request(`${PLURALS[kind]}/${encodeURIComponent(name)}`);
  }

  create(resource: IResource): Promise<IResource> {
    return this.request(PLURALS[resource.kind], {
      method: 'POST',
      body: JSON.stringify(resource)
    });
  }

  /** Replace a resource's spec (Servers and Notebooks may change; suspend/resume). */
  update(resource: IResource): Promise<IResource> {
    return this.request(`${PLURALS[resource.kind]}/${encodeURIComponent(resource.metadata.name)}`, {
      method: 'PUT',
      body: JSON.stringify(resource)
    });
  }

  /**
   * Read, change and replace a resource; a 409 (someone, e.g. the operator, changed it in
   * between) reads it again and retries.
   */
  async modify(
    kind: Kind,
    name: string,
    change: (resource: IResource) => IResource,
    attempts = 4
  ): Promise<IResource> {
    for (let i = 1; ; i++) {
      const fresh = await this.get(kind, name);
      try {
        return await this.update(change(fresh));
      } catch (error) {
        if (!(error instanceof ApiError) || error.status !== 409 || i >= attempts) {
          throw error;
        }
      }
    }
  }

  /** Run a failed or interrupted Model or Dataset again: created again from its spec. */
  rerun(kind: Kind, name: string): Promise<IResource> {
    return this.request(`${PLURALS[kind]}/${encodeURIComponent(name)}/rerun`, { method: 'POST' });
  }

  /**
   * Stop a running Model or Dataset: the server marks it (annotation substratus.ai/cancel-requested)
   * and the reconcile flow stops its workload; it then reads Failed, reason Cancelled.
   */
  cancel(kind: Kind, name: string): Promise<IResource> {
    return this.request(`${PLURALS[kind]}/${encodeURIComponent(name)}/cancel`, { method: 'POST' });
  }

  async delete(kind: Kind, name: string): Promise<void> {
    await this.request(`${PLURALS[kind]}/${encodeURIComponent(name)}`, { method: 'DELETE' });
  }

  /** The logs of a resource's workload, streamed: the response body is read as it comes. */
  logs(kind: Kind, name: string, follow = true, signal?: AbortSignal): Promise<Response> {
    return this.fetch(
      `${PLURALS[kind]}/${encodeURIComponent(name)}/logs`,
      { signal },
      follow ? { follow: 'true' } : {}
    );
  }

  /**
   * A completion from a ready Server, through the API (the browser never calls the Server's
   * own address): server-sent events when `stream`, else one JSON answer. Without maxTokens the
   * Server's max_new_tokens applies, shortened to what the model's context leaves.
   */
  complete(
    server: string,
    prompt: string,
    options: ICompletionOptions = {},
    signal?: AbortSignal
  ): Promise<Response> {
    const { maxTokens, temperature, stream = true } = options;
    return this.fetch(`servers/${encodeURIComponent(server)}/proxy/v1/completions`, {
      method: 'POST',
      signal,
      body: JSON.stringify({
        prompt,
        stream,
        ...(maxTokens !== undefined ? { max_tokens: maxTokens } : {}),
        ...(temperature !== undefined ? { temperature } : {})
      })
    });
  }

  /** Export a notebook (a path in the Jupyter contents) to a new Model. */
  exportNotebook(request: IExportRequest): Promise<IResource> {
    return this.request('export', { method: 'POST', body: JSON.stringify(request) });
  }

  /** What an export of the notebook would pack (a dry run: nothing is created). */
  exportListing(path: string): Promise<IExportListing> {
    return this.request('export', {
      method: 'POST',
      body: JSON.stringify({ path, dryRun: true })
    });
  }

  /** Where the upload of an exported Model's build context stands. */
  exportStatus(name: string): Promise<IExportStatus> {
    return this.request(`export/${encodeURIComponent(name)}`);
  }

  private _namespace: () => string;
  private _trans: TranslationBundle;
}

async function toApiError(response: Response, trans: TranslationBundle): Promise<ApiError> {
  let body: unknown = undefined;
  let text = '';
  try {
    text = await response.text();
    body = JSON.parse(text);
  } catch {
    // not JSON (or unreadable): the text or the status line says what there is
  }
  let message = errorMessageOf(body);
  if (message === undefined && response.status === 404 && /^\s*</.test(text)) {
    message = trans.__(
      '%1: the Substratus API is not there (is the jupyter_substratus server extension enabled?)',
      response.status
    );
  }
  message ??= statusMessage(response.status, response.statusText, body === undefined ? text : '');
  return new ApiError(response.status, message, fieldErrorsOf(body), body);
}
