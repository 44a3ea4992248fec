import {
  datasetManifest,
  defaultModelName,
  fineTuneManifest,
  importModelManifest,
  notebookManifest,
  parseParams,
  serverManifest
} from '../src/logic/manifests';
import { info, trans } from './fixtures';

describe('parseParams', () => {
  it('reads key=value lines with typed values', () => {
    expect(parseParams('epochs=3\nlr=0.0002\nlora=true\nname=opt\n# comment\n', trans)).toEqual({
      epochs: 3,
      lr: 0.0002,
      lora: true,
      name: 'opt'
    });
  });

  it('reads a JSON object', () => {
    expect(parseParams('{"epochs": 1}', trans)).toEqual({ epochs: 1 });
  });

  it('says how to write a bad line', () => {
    expect(() => parseParams('epochs', trans)).toThrow(/key=value/);
    expect(() => parseParams('[1]', trans)).toThrow();
  });

  it('is empty for blank text', () => {
    expect(parseParams('  ', trans)).toEqual({});
  });
});

describe('manifests', () => {
  it('builds a Dataset from URLs', () => {
    expect(
      datasetManifest(
        { name: ' squad ', urls: 'https://a/x.jsonl\nhttps://b/y.jsonl' },
        info.images
      )
    ).toEqual({
      apiVersion: 'substratus.ai/v1',
      kind: 'Dataset',
      metadata: { name: 'squad' },
      spec: {
        image: 'substratusai/dataset-loader-http',
        params: { urls: 'https://a/x.jsonl,https://b/y.jsonl' }
      }
    });
  });

  it('imports a Model by Hugging Face id', () => {
    expect(
      importModelManifest({ name: 'opt', source: 'facebook/opt-125m' }, info.images).spec
    ).toEqual({
      image: 'substratusai/model-loader-huggingface',
      params: { name: 'facebook/opt-125m' }
    });
  });

  it('fine-tunes with model, dataset, params and GPUs', () => {
    const m = fineTuneManifest(
      {
        name: 'opt-tuned',
        baseModel: 'opt',
        dataset: 'squad',
        params: 'epochs=1',
        gpuType: 'nvidia-l4',
        gpuCount: '2'
      },
      info.images,
      trans
    );
    expect(m.kind).toBe('Model');
    expect(m.spec).toEqual({
      image: 'substratusai/model-trainer-huggingface',
      model: { name: 'opt' },
      dataset: { name: 'squad' },
      params: { epochs: 1 },
      resources: { gpu: { type: 'nvidia-l4', count: 2 } }
    });
  });

  it('leaves resources out without a GPU, and sends a bad count for the API to judge', () => {
    const none = serverManifest({ name: 's', model: 'm', gpuType: 'none', gpuCount: '1' });
    expect(none.spec.resources).toBeUndefined();
    const bad = serverManifest({ name: 's', model: 'm', gpuType: 'nvidia-t4', gpuCount: '-1' });
    expect(bad.spec.resources).toEqual({ gpu: { type: 'nvidia-t4', count: -1 } });
  });

  it("names a Server's image only when one is typed: the server picks the default", () => {
    const gpu = { gpuType: 'nvidia-l4', gpuCount: '1' };
    for (const image of [undefined, '', '  ']) {
      const server = serverManifest({ name: ' s ', model: ' m ', image, ...gpu });
      expect(server.spec).toEqual({
        model: { name: 'm' },
        resources: { gpu: { type: 'nvidia-l4', count: 1 } }
      });
    }
    const own = serverManifest({ name: 's', model: 'm', image: ' me/server:1 ', ...gpu });
    expect(own.spec.image).toBe('me/server:1');
  });

  it("sends a Notebook's suspendAfterIdle only when one is typed", () => {
    const gpu = { gpuType: 'none', gpuCount: '0' };
    const plain = notebookManifest({ name: 'nb', suspendAfterIdle: ' ', ...gpu }, info.images);
    expect(plain.spec).toEqual({ image: info.images.notebook });
    const watched = notebookManifest(
      { name: 'nb', suspendAfterIdle: ' 30m ', ...gpu },
      info.images
    );
    expect(watched.spec.suspendAfterIdle).toBe('30m');
  });

  it('derives a valid Model name from a notebook path', () => {
    expect(defaultModelName('work/My Fine_Tune.ipynb')).toBe('my-fine-tune');
    expect(defaultModelName('___.ipynb')).toBe('model');
  });
});
