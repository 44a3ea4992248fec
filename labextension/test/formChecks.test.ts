import { IResource } from '../src/api/types';
import {
  gpuProblem,
  idleProblem,
  missingDependency,
  otherParamsProblem,
  paramField,
  paramProblem,
  requiredProblem,
  resourceChoices,
  typedParams
} from '../src/logic/formChecks';
import { fineTuneManifest } from '../src/logic/manifests';
import { cond, info, trans } from './fixtures';

const [learningRate, maxSteps, loraDropout, mergeAdapter, scheduler] = info.trainerParams;

function model(
  name: string,
  phase: 'Running' | 'Ready' | 'Failed' = 'Running',
  conditions = [cond('Complete', 'False', 'JobRunning')]
): IResource {
  return {
    apiVersion: 'substratus.ai/v1',
    kind: 'Model',
    metadata: { name },
    spec: { image: 'x' },
    status: { ready: phase === 'Ready', phase, conditions }
  };
}

describe('resourceChoices', () => {
  it('lists ready ones first, each with its state', () => {
    const choices = resourceChoices(
      [
        model('zeta'),
        model('beta', 'Ready', [cond('Complete', 'True', 'JobComplete')]),
        model('alpha')
      ],
      trans
    );
    expect(choices).toEqual([
      { value: 'beta', label: 'beta (ready)' },
      { value: 'alpha', label: 'alpha (running)' },
      { value: 'zeta', label: 'zeta (running)' }
    ]);
  });

  it('shows a failed one as failed', () => {
    const [choice] = resourceChoices(
      [model('broken', 'Failed', [cond('Complete', 'False', 'JobFailed')])],
      trans
    );
    expect(choice.label).toBe('broken (failed)');
  });
});

describe('missingDependency', () => {
  it('warns of a name that names nothing yet, and of nothing else', () => {
    const models = [model('opt')];
    expect(missingDependency('Model', 'llama', models, trans)).toBe(
      'no Model named llama yet; the fine-tune will wait for it'
    );
    expect(missingDependency('Model', ' opt ', models, trans)).toBeUndefined();
    expect(missingDependency('Dataset', '', [], trans)).toBeUndefined();
  });
});

describe('requiredProblem and gpuProblem', () => {
  it('says required of an empty value', () => {
    expect(requiredProblem('  ', trans)).toBe('required');
    expect(requiredProblem('x', trans)).toBeUndefined();
  });

  it('refuses a GPU type with no GPUs, and nothing without a type', () => {
    expect(gpuProblem('nvidia-l4', '0', trans)).toMatch(/GPU count of 1 or more/);
    expect(gpuProblem('nvidia-l4', '', trans)).toMatch(/GPU count of 1 or more/);
    expect(gpuProblem('nvidia-l4', '1.5', trans)).toMatch(/GPU count of 1 or more/);
    expect(gpuProblem('nvidia-l4', '2', trans)).toBeUndefined();
    expect(gpuProblem('none', '0', trans)).toBeUndefined();
  });
});

describe('paramProblem', () => {
  it('refuses what the trainer refuses, with the message', () => {
    expect(paramProblem(learningRate, 'fast', trans)).toBe('must be a number, not "fast"');
    expect(paramProblem(learningRate, '-1', trans)).toBe('must be at least 0, not -1');
    expect(paramProblem(loraDropout, '1.5', trans)).toBe('must be at most 1, not 1.5');
    expect(paramProblem(maxSteps, '2.5', trans)).toBe('must be an integer, not "2.5"');
    expect(paramProblem(mergeAdapter, 'maybe', trans)).toBe('must be true or false, not "maybe"');
  });

  it('takes what the trainer takes, and empty (its default)', () => {
    expect(paramProblem(learningRate, '2e-4', trans)).toBeUndefined();
    expect(paramProblem(maxSteps, '-1', trans)).toBeUndefined();
    expect(paramProblem(scheduler, 'cosine', trans)).toBeUndefined();
    expect(paramProblem(learningRate, '', trans)).toBeUndefined();
  });
});

describe('typed params into the manifest', () => {
  it('types the filled fields, leaves the empty ones out and wins over the free lines', () => {
    const values = {
      [paramField('learning_rate')]: '0.0002',
      [paramField('max_steps')]: '',
      [paramField('merge_adapter')]: 'false',
      [paramField('lr_scheduler_type')]: 'cosine'
    };
    const typed = typedParams(info.trainerParams, values);
    expect(typed).toEqual({
      learning_rate: 0.0002,
      merge_adapter: false,
      lr_scheduler_type: 'cosine'
    });
    const manifest = fineTuneManifest(
      {
        name: 'tuned',
        baseModel: 'opt',
        dataset: 'colors',
        params: 'learning_rate=1\nwarmup_ratio=0.1',
        typedParams: typed,
        gpuType: 'none',
        gpuCount: '0'
      },
      info.images,
      trans
    );
    expect(manifest.spec.params).toEqual({ ...typed, warmup_ratio: 0.1 });
  });

  it('checks the free lines: their form and the known params among them', () => {
    expect(otherParamsProblem('warmup_ratio=0.1', info.trainerParams, trans)).toBeUndefined();
    expect(otherParamsProblem('learning_rate=fast', info.trainerParams, trans)).toBe(
      'learning_rate: must be a number, not "fast"'
    );
    expect(otherParamsProblem('no equals sign', info.trainerParams, trans)).toMatch(/key=value/);
  });
});

describe('idleProblem', () => {
  it('takes what the CRD takes, or nothing', () => {
    for (const ok of ['', ' ', '90s', '30m', '2h', ' 45m ']) {
      expect(idleProblem(ok, trans)).toBeUndefined();
    }
    for (const bad of ['30', '0m', '1d', '30 m', '1.5h', '-5m']) {
      expect(idleProblem(bad, trans)).toBe('must be a whole number and s, m or h, e.g. 30m');
    }
  });
});
