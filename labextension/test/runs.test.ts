import { IResource } from '../src/api/types';
import { sameBaseRuns } from '../src/logic/runs';

function model(name: string, base?: string, dataset?: string): IResource {
  return {
    apiVersion: 'substratus.ai/v1',
    kind: 'Model',
    metadata: { name },
    spec: {
      ...(base ? { model: { name: base } } : {}),
      ...(dataset ? { dataset: { name: dataset } } : {})
    }
  };
}

describe('sameBaseRuns', () => {
  it('picks the other fine-tunes of the same base model', () => {
    const a = model('a', 'opt', 'd1');
    const models = [
      a,
      model('b', 'opt', 'd2'),
      model('c', 'gpt2', 'd1'),
      model('opt'),
      model('e', 'opt')
    ];
    expect(sameBaseRuns(a, models).map(m => m.metadata.name)).toEqual(['b']);
  });

  it('has nothing to compare for an imported model', () => {
    expect(sameBaseRuns(model('opt'), [model('opt'), model('b', undefined, 'd')])).toEqual([]);
  });
});
