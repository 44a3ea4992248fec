/**
 * Where a resource's artifacts are: inside the Jupyter root (the local backend), a link that
 * opens the folder in the file browser, and the executed notebook and its HTML render of a
 * notebook-mode training one click away; anywhere else, the URL as text.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import {
  contentsPath,
  INotebookOutputs,
  NOTEBOOK_OUTPUT_DIR,
  notebookOutputs
} from '../logic/artifacts';
import type { IDetailsServices } from './details';

export function ArtifactsLink(props: {
  url: string;
  serverRoot: string;
  services: IDetailsServices;
  trans: TranslationBundle;
}): JSX.Element {
  const { url, services, trans } = props;
  const path = contentsPath(url, props.serverRoot);
  const [outputs, setOutputs] = React.useState<INotebookOutputs>({});
  React.useEffect(() => {
    if (path === undefined) {
      return;
    }
    let live = true;
    const folder = path ? `${path}/${NOTEBOOK_OUTPUT_DIR}` : NOTEBOOK_OUTPUT_DIR;
    services.contents
      .get(folder, { content: true })
      .then(model => {
        if (live && Array.isArray(model.content)) {
          setOutputs(notebookOutputs(model.content.map((m: { path: string }) => m.path)));
        }
      })
      .catch(() => {
        // No notebook folder: not a notebook-mode training.
      });
    return () => {
      live = false;
    };
  }, [path, services]);
  if (path === undefined) {
    return <code className="jp-substratus-Url">{url}</code>;
  }
  const open = (file: string) => void services.commands.execute('docmanager:open', { path: file });
  const outputButtons: Array<[keyof INotebookOutputs, string]> = [
    ['notebook', trans.__('Executed notebook')],
    ['html', trans.__('HTML')]
  ];
  return (
    <span className="jp-substratus-Artifacts">
      <a
        href="#"
        className="jp-substratus-Link"
        data-path={path}
        title={trans.__('Open %1 in the file browser', path || '/')}
        onClick={e => {
          e.preventDefault();
          void services.commands.execute('filebrowser:go-to-path', { path: `/${path}` });
        }}
      >
        {path || '/'}
      </a>
      {outputButtons.map(([output, label]) => {
        const file = outputs[output];
        return file ? (
          <button
            key={output}
            className="jp-substratus-Action"
            data-open={output}
            onClick={() => open(file)}
          >
            {label}
          </button>
        ) : null;
      })}
    </span>
  );
}
