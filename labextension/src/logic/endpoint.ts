/**
 * A ready Server's OpenAI-compatible endpoint as reached through this Jupyter server's proxy
 * route (servers/{name}/proxy/v1 of the API), and a snippet that calls it.
 */
import { URLExt } from '@jupyterlab/coreutils';

import { API_ROOT } from '../api/types';

/**
 * The absolute base URL of a Server's OpenAI API (what `base_url` takes) from the Jupyter
 * server's absolute base URL (PageConfig.getBaseUrl()).
 */
export function serverEndpoint(baseUrl: string, server: string): string {
  return URLExt.join(baseUrl, API_ROOT, 'servers', encodeURIComponent(server), 'proxy', 'v1');
}

/**
 * Python that calls the endpoint with the openai client. The Jupyter server's token is the API
 * key (the client sends it as "Authorization: Bearer", which Jupyter accepts); the page never
 * holds it, so the snippet reads it from JUPYTER_TOKEN. A namespace other than the default goes
 * in the query of every request.
 */
export function openaiSnippet(endpoint: string, model: string, namespace = ''): string {
  const query = namespace ? `\n    default_query={"namespace": ${JSON.stringify(namespace)}},` : '';
  return `import os
from openai import OpenAI

client = OpenAI(
    base_url=${JSON.stringify(endpoint)},
    # The Jupyter server's token (sent as "Authorization: Bearer <token>").
    api_key=os.environ["JUPYTER_TOKEN"],${query}
)
completion = client.completions.create(
    model=${JSON.stringify(model)},
    prompt="Hello,",
    max_tokens=64,
)
print(completion.choices[0].text)
`;
}
