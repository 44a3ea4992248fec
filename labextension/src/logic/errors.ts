/**
 * Turning an API error body into messages beside the form's fields.
 */
import { IFieldError } from '../api/types';

export interface IErrorBody {
  message?: string;
  errors?: IFieldError[];
  /** Some handlers name the list "fields" or "details". */
  fields?: IFieldError[];
  details?: IFieldError[];
  reason?: string;
}

/** The field errors of an API error body, whatever the list is called. */
export function fieldErrorsOf(body: unknown): IFieldError[] {
  if (!body || typeof body !== 'object') {
    return [];
  }
  const b = body as IErrorBody;
  const list = b.errors ?? b.fields ?? b.details ?? [];
  if (!Array.isArray(list)) {
    return [];
  }
  return list
    .filter(e => e && typeof e === 'object' && typeof e.message === 'string')
    .map(e => ({ path: String(e.path ?? ''), message: e.message }));
}

/**
 * The message of an error body: ours ({message}) or an OpenAI-compatible model server's
 * ({error: {message}}), as the proxy route passes it on; undefined when there is none.
 */
export function errorMessageOf(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') {
    return undefined;
  }
  const b = body as { message?: unknown; error?: { message?: unknown } };
  const m = typeof b.message === 'string' ? b.message : b.error?.message;
  return typeof m === 'string' && m ? m : undefined;
}

const STATUS_PHRASES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout'
};

/**
 * The message of an error answer with no message of ours: an HTML page's title, a short plain
 * text, or the status line, with its phrase even where HTTP/2 sends none ("400 Bad Request").
 */
export function statusMessage(status: number, statusText: string, text: string): string {
  const title = /<title>([^<]*)<\/title>/i.exec(text)?.[1]?.trim();
  if (title) {
    return title;
  }
  if (text.trim() && !/^\s*</.test(text)) {
    return text.trim().slice(0, 500);
  }
  return `${status} ${statusText || STATUS_PHRASES[status] || 'error'}`;
}

/** Normalise "spec.params[urls]" and "spec.params.urls" to one form. */
export function normalisePath(path: string): string {
  return path.replace(/\[([^\]]+)\]/g, '.$1').replace(/^\./, '');
}

/**
 * Assign each API field error to a form field. `fieldPaths` maps a form field to the
 * manifest paths it fills; the longest matching prefix wins, so an error at
 * "spec.resources.gpu.count" goes to the GPU count field, not to a "spec" catch-all.
 * Errors that match no field are returned under `general`.
 */
export function mapFieldErrors(
  errors: IFieldError[],
  fieldPaths: Record<string, string[]>
): { byField: Record<string, string[]>; general: string[] } {
  const byField: Record<string, string[]> = {};
  const general: string[] = [];
  for (const error of errors) {
    const path = normalisePath(error.path);
    let best: { field: string; length: number } | undefined;
    for (const [field, prefixes] of Object.entries(fieldPaths)) {
      for (const prefix of prefixes.map(normalisePath)) {
        const matches = path === prefix || path.startsWith(prefix + '.');
        if (matches && (!best || prefix.length > best.length)) {
          best = { field, length: prefix.length };
        }
      }
    }
    if (best) {
      (byField[best.field] ??= []).push(error.message);
    } else {
      general.push(error.path ? `${error.path}: ${error.message}` : error.message);
    }
  }
  return { byField, general };
}
