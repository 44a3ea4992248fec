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
    expect(contentsPath('file:///home/me/work/.state/models/m/artifacts', '/home/me/work')).toBe(
      '.state/models/m/artifacts'
    );
    expect(contentsPath('file:///home/me/work/a%20b/', '/home/me/work/')).toBe('a b');
    expect(contentsPath('file:///home/me/work', '/home/me/work')).toBe('');
  });

  it('is undefined outside the root or for other URLs', () => {
    expect(contentsPath('file:///home/me/workshop/x', '/home/me/work')).toBeUndefined();
    expect(contentsPath('file:///tmp/x', '/home/me/work')).toBeUndefined();
    expect(contentsPath('gs://bucket/models/m', '/home/me/work')).toBeUndefined();
    expect(contentsPath('file:///home/me/work/x', '')).toBeUndefined();
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
