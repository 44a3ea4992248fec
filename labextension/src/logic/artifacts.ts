/**
 * Where a resource's artifacts are for the Lab: a file:// URL inside the Jupyter server's root
 * directory becomes a path of the file browser; anything else is shown as it is.
 */

/**
 * The path relative to the server root (as the contents API and the file browser name it) of
 * a file:// URL, or undefined when the URL is not a local file or lies outside the root.
 */
export function contentsPath(url: string, serverRoot: string): string | undefined {
  if (!url.startsWith('file://') || !serverRoot) {
    return undefined;
  }
  let path: string;
  try {
    path = decodeURIComponent(new URL(url).pathname);
  } catch {
    return undefined;
  }
  const root = serverRoot.replace(/\\/g, '/').replace(/\/+$/, '');
  const file = path.replace(/\/+$/, '');
  if (file === root) {
    return '';
  }
  if (!file.startsWith(root + '/')) {
    return undefined;
  }
  const relative = file.slice(root.length + 1);
  return relative.split('/').includes('..') ? undefined : relative;
}

/** What a trainer's notebook mode leaves in artifacts/notebook/: the executed notebook, its HTML. */
export interface INotebookOutputs {
  notebook?: string;
  html?: string;
}

export const NOTEBOOK_OUTPUT_DIR = 'notebook';

/** The executed notebook and its HTML among the paths of the artifacts' notebook folder. */
export function notebookOutputs(paths: string[]): INotebookOutputs {
  const notebook = paths.find(p => p.endsWith('.ipynb'));
  const html = paths.find(p => p.endsWith('.html'));
  return { notebook, html };
}
