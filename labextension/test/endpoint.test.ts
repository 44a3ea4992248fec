import { contentsPath, notebookOutputs } from '../src/logic/artifacts';
import { openaiSnippet, serverEndpoint } from '../src/logic/endpoint';

describe('serverEndpoint', () => {
  it('is the proxy route of the API under the base URL', () => {
    expect(serverEndpoint('http://127.0.0.1:8888/lab-base/', 'opt-server')).toBe(
      'http://127.0.0.1:8888/lab-base/substratus/api/v1/servers/opt-server/proxy/v1'
    );
  });
});

describe('openaiSnippet', () => {
  it('names the endpoint, the token as API key and the model', () => {
    const s = openaiSnippet('http://h/substratus/api/v1/servers/s/proxy/v1', 'opt-125m');
    expect(s).toContain('base_url="http://h/substratus/api/v1/servers/s/proxy/v1"');
    expect(s).toContain('api_key=os.environ["JUPYTER_TOKEN"]');
    expect(s).toContain('model="opt-125m"');
    expect(s).not.toContain('default_query');
  });

  it('puts a namespace in the query', () => {
    expect(openaiSnippet('http://h/v1', 'm', 'team-a')).toContain(
      'default_query={"namespace": "team-a"}'
    );
  });
});

describe('contentsPath', () => {
  it('is the path inside the server root', () => {
    expect(contentsPath('file:///srv/lab/.state/models/m/artifacts', '/srv/lab')).toBe(
      '.state/models/m/artifacts'
    );
    expect(contentsPath('file:///srv/lab/a%20b/', '/srv/lab/')).toBe('a b');
    expect(contentsPath('file:///srv/lab', '/srv/lab')).toBe('');
  });

  it('is undefined outside the root or for other URLs', () => {
    expect(contentsPath('file:///srv/labshop/x', '/srv/lab')).toBeUndefined();
    expect(contentsPath('file:///tmp/x', '/srv/lab')).toBeUndefined();
    expect(contentsPath('gs://bucket/models/m', '/srv/lab')).toBeUndefined();
    expect(contentsPath('file:///srv/lab/x', '')).toBeUndefined();
  });
});

describe('notebookOutputs', () => {
  it('finds the executed notebook and its HTML', () => {
    expect(notebookOutputs(['a/notebook/finetune.html', 'a/notebook/finetune.ipynb'])).toEqual({
      notebook: 'a/notebook/finetune.ipynb',
      html: 'a/notebook/finetune.html'
    });
    expect(notebookOutputs([])).toEqual({ notebook: undefined, html: undefined });
  });
});
