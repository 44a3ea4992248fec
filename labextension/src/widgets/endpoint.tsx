/**
 * A ready Server's endpoint through this Jupyter server (absolute URL), with copy buttons for
 * it and for a ready-to-paste openai snippet.
 */
import { Clipboard } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { copyIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IResource } from '../api/types';
import { openaiSnippet, serverEndpoint } from '../logic/endpoint';

function CopyButton(props: { text: string; what: string; trans: TranslationBundle }): JSX.Element {
  const { trans } = props;
  const [copied, setCopied] = React.useState(false);
  const label = trans.__('Copy %1', props.what);
  return (
    <button
      className="jp-substratus-Action jp-substratus-Copy"
      title={label}
      aria-label={label}
      onClick={() => {
        Clipboard.copyToSystem(props.text);
        setCopied(true);
        setTimeout(() => setCopied(false), 2000);
      }}
    >
      <copyIcon.react tag="span" />
      {copied ? trans.__('Copied') : trans.__('Copy')}
    </button>
  );
}

export function ServerEndpoint(props: {
  server: IResource;
  namespace: string;
  trans: TranslationBundle;
}): JSX.Element {
  const { server, trans } = props;
  const endpoint = serverEndpoint(PageConfig.getBaseUrl(), server.metadata.name);
  const snippet = openaiSnippet(
    endpoint,
    server.spec.model?.name ?? server.metadata.name,
    props.namespace
  );
  return (
    <div className="jp-substratus-Endpoint">
      <div className="jp-substratus-EndpointUrl">
        <code data-endpoint={endpoint}>{endpoint}</code>
        <CopyButton text={endpoint} what={trans.__('endpoint URL')} trans={trans} />
      </div>
      <p>
        {trans.__(
          "An OpenAI-compatible API. The API key is the Jupyter server's token, sent as a Bearer token."
        )}
      </p>
      <div className="jp-substratus-Snippet">
        <pre>{snippet}</pre>
        <CopyButton text={snippet} what={trans.__('openai snippet')} trans={trans} />
      </div>
    </div>
  );
}
