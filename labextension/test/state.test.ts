import { IResource } from '../src/api/types';
import { actionsFor, deriveState, describeState, NO_REASONS } from '../src/logic/state';
import { cond, info, reasons, trans } from './fixtures';

function res(kind: IResource['kind'], status?: IResource['status'], spec = {}): IResource {
  return { apiVersion: 'substratus.ai/v1', kind, metadata: { name: 'x' }, spec, status };
}

describe('deriveState', () => {
  it('is pending without a status', () => {
    expect(deriveState(res('Dataset'), reasons).phase).toBe('pending');
    expect(deriveState(res('Dataset', { conditions: [] }), reasons).phase).toBe('pending');
  });

  it('is building while an uploaded build is not built', () => {
    const r = res(
      'Model',
      {
        conditions: [
          cond('Uploaded', 'True', 'UploadFound'),
          cond('Built', 'False', 'JobNotComplete')
        ]
      },
      { build: { upload: { md5Checksum: 'abc' } } }
    );
    expect(deriveState(r, reasons)).toEqual({
      phase: 'building',
      reason: 'JobNotComplete',
      message: ''
    });
  });

  it('is building while waiting for the upload', () => {
    const r = res(
      'Model',
      { conditions: [cond('Uploaded', 'False', 'AwaitingUpload', 'upload the build context')] },
      { build: { upload: { md5Checksum: 'abc' } } }
    );
    expect(deriveState(r, reasons).phase).toBe('building');
  });

  it('is running when built but not complete', () => {
    const r = res('Dataset', {
      conditions: [cond('Built', 'True', 'ImageGiven'), cond('Complete', 'False', 'JobNotComplete')]
    });
    expect(deriveState(r, reasons)).toMatchObject({ phase: 'running', reason: 'JobNotComplete' });
  });

  it('is ready when status.ready', () => {
    const r = res('Server', {
      ready: true,
      conditions: [cond('Serving', 'True', 'DeploymentReady')]
    });
    expect(deriveState(r, reasons).phase).toBe('ready');
  });

  it('is failed with the reason and message of a failed condition, before anything else', () => {
    const r = res('Model', {
      ready: true,
      conditions: [
        cond('Built', 'True', 'ImageGiven'),
        cond('Complete', 'False', 'JobFailed', 'exit code 1')
      ]
    });
    const state = deriveState(r, reasons);
    expect(state).toEqual({ phase: 'failed', reason: 'JobFailed', message: 'exit code 1' });
    expect(describeState(state, trans)).toBe('failed: exit code 1');
  });

  it('reads only the reasons the server names as failures as failed', () => {
    const r = res('Server', {
      conditions: [cond('Serving', 'False', 'InvalidGPUType', 'nvidia-x1 is unknown')]
    });
    expect(deriveState(r, reasons).phase).toBe('running');
    const named = { ...reasons, failed: [...reasons.failed, 'InvalidGPUType'] };
    expect(deriveState(r, named).phase).toBe('failed');
  });

  it('shows a wait for a dependency as pending with its reason, not as a failure', () => {
    const r = res('Model', {
      conditions: [
        cond('Complete', 'False', 'DependencyNotFound', 'Model opt-125m does not exist (yet)')
      ]
    });
    expect(deriveState(r, reasons)).toEqual({
      phase: 'pending',
      reason: 'DependencyNotFound',
      message: 'Model opt-125m does not exist (yet)'
    });
    const waiting = res('Model', {
      conditions: [cond('Complete', 'False', 'WaitingForDependency')]
    });
    expect(deriveState(waiting, reasons).phase).toBe('pending');
  });

  it('reads every open condition as running before the server has named its reasons', () => {
    const r = res('Model', { conditions: [cond('Complete', 'False', 'JobFailed')] });
    expect(deriveState(r, NO_REASONS).phase).toBe('running');
  });

  it('shows a suspended reason as suspended', () => {
    const r = res('Notebook', { conditions: [cond('Serving', 'False', 'Suspended')] });
    expect(deriveState(r, reasons).phase).toBe('suspended');
  });

  it('orders by the lifecycle: an open Built comes before an open Complete', () => {
    const r = res('Model', {
      conditions: [
        cond('Complete', 'False', 'Running'),
        cond('Built', 'False', 'Building', 'kaniko')
      ]
    });
    expect(deriveState(r, reasons)).toEqual({
      phase: 'building',
      reason: 'Building',
      message: 'kaniko'
    });
  });

  it('shows a suspended notebook as suspended', () => {
    expect(deriveState(res('Notebook', { ready: false }, { suspend: true }), reasons).phase).toBe(
      'suspended'
    );
  });
});

describe('actionsFor', () => {
  it('offers fine-tune and deploy only for a ready Model', () => {
    const ready = res('Model', { ready: true });
    expect(actionsFor(ready, deriveState(ready, reasons), info)).toEqual([
      'details',
      'logs',
      'finetune',
      'deploy',
      'delete'
    ]);
    const pending = res('Model');
    expect(actionsFor(pending, deriveState(pending, reasons), info)).toEqual([
      'details',
      'logs',
      'delete'
    ]);
  });

  it('offers to run a failed Model or Dataset again, not a failed Server', () => {
    const failed = (kind: IResource['kind']) => {
      const r = res(kind, {
        conditions: [cond(kind === 'Server' ? 'Serving' : 'Complete', 'False', 'Interrupted')]
      });
      return actionsFor(r, deriveState(r, reasons), info);
    };
    expect(failed('Model')).toEqual(['details', 'logs', 'rerun', 'delete']);
    expect(failed('Dataset')).toContain('rerun');
    expect(failed('Server')).not.toContain('rerun');
  });

  it('offers no rerun before the server has said which kinds run to completion', () => {
    const r = res('Model', { conditions: [cond('Complete', 'False', 'Interrupted')] });
    expect(actionsFor(r, deriveState(r, reasons), undefined)).not.toContain('rerun');
  });

  it('offers suspend/open for a running notebook and resume for a suspended one', () => {
    const running = res('Notebook', { ready: true, url: 'http://nb' });
    expect(actionsFor(running, deriveState(running, reasons), info)).toContain('open');
    expect(actionsFor(running, deriveState(running, reasons), info)).toContain('suspend');
    const suspended = res('Notebook', {}, { suspend: true });
    expect(actionsFor(suspended, deriveState(suspended, reasons), info)).toContain('resume');
    expect(actionsFor(suspended, deriveState(suspended, reasons), info)).not.toContain('open');
  });
});
