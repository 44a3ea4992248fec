import { IResource } from '../src/api/types';
import { actionsFor, deriveState, describeState } from '../src/logic/state';

function res(kind: IResource['kind'], status?: IResource['status'], spec = {}): IResource {
  return { apiVersion: 'substratus.ai/v1', kind, metadata: { name: 'x' }, spec, status };
}

const cond = (type: string, status: 'True' | 'False' | 'Unknown', reason: string, message = '') => ({
  type,
  status,
  reason,
  message
});

describe('deriveState', () => {
  it('is pending without a status', () => {
    expect(deriveState(res('Dataset')).phase).toBe('pending');
    expect(deriveState(res('Dataset', { conditions: [] })).phase).toBe('pending');
  });

  it('is building while an uploaded build is not built', () => {
    const r = res(
      'Model',
      { conditions: [cond('Uploaded', 'True', 'UploadFound'), cond('Built', 'False', 'JobNotComplete')] },
      { build: { upload: { md5Checksum: 'abc' } } }
    );
    expect(deriveState(r)).toEqual({ phase: 'building', reason: 'JobNotComplete', message: '' });
  });

  it('is building while waiting for the upload', () => {
    const r = res(
      'Model',
      { conditions: [cond('Uploaded', 'False', 'AwaitingUpload', 'upload the build context')] },
      { build: { upload: { md5Checksum: 'abc' } } }
    );
    expect(deriveState(r).phase).toBe('building');
  });

  it('is running when built but not complete', () => {
    const r = res('Dataset', {
      conditions: [cond('Built', 'True', 'ImageGiven'), cond('Complete', 'False', 'JobNotComplete')]
    });
    expect(deriveState(r)).toMatchObject({ phase: 'running', reason: 'JobNotComplete' });
  });

  it('is ready when status.ready', () => {
    const r = res('Server', { ready: true, conditions: [cond('Serving', 'True', 'DeploymentReady')] });
    expect(deriveState(r).phase).toBe('ready');
  });

  it('is failed with the reason and message of a failed condition, before anything else', () => {
    const r = res('Model', {
      ready: true,
      conditions: [cond('Built', 'True', 'ImageGiven'), cond('Complete', 'False', 'JobFailed', 'exit code 1')]
    });
    const state = deriveState(r);
    expect(state).toEqual({ phase: 'failed', reason: 'JobFailed', message: 'exit code 1' });
    expect(describeState(state)).toBe('failed: exit code 1');
  });

  it('treats an invalid GPU type as a failure, not as endless waiting', () => {
    const r = res('Server', { conditions: [cond('Serving', 'False', 'InvalidGPUType', 'nvidia-x1 is unknown')] });
    expect(deriveState(r).phase).toBe('failed');
  });

  it('shows a wait for a dependency as pending with its reason, not as a failure', () => {
    const r = res('Model', {
      conditions: [cond('Complete', 'False', 'DependencyNotFound', 'Model opt-125m does not exist (yet)')]
    });
    expect(deriveState(r)).toEqual({
      phase: 'pending',
      reason: 'DependencyNotFound',
      message: 'Model opt-125m does not exist (yet)'
    });
    const waiting = res('Model', { conditions: [cond('Complete', 'False', 'WaitingForDependency')] });
    expect(deriveState(waiting).phase).toBe('pending');
  });

  it('knows every failure reason of the operator and the local backend', () => {
    for (const reason of ['InvalidSpec', 'JobFailed', 'PodFailed', 'BuildFailed', 'DependencyFailed', 'ChecksumMismatch', 'UploadUnsupported', 'Interrupted']) {
      expect(deriveState(res('Model', { conditions: [cond('Complete', 'False', reason)] })).phase).toBe('failed');
    }
  });

  it('orders by the lifecycle: an open Built comes before an open Complete', () => {
    const r = res('Model', {
      conditions: [cond('Complete', 'False', 'Running'), cond('Built', 'False', 'Building', 'kaniko')]
    });
    expect(deriveState(r)).toEqual({ phase: 'building', reason: 'Building', message: 'kaniko' });
  });

  it('shows a suspended notebook as suspended', () => {
    expect(deriveState(res('Notebook', { ready: false }, { suspend: true })).phase).toBe('suspended');
  });
});

describe('actionsFor', () => {
  it('offers fine-tune and deploy only for a ready Model', () => {
    const ready = res('Model', { ready: true });
    expect(actionsFor(ready, deriveState(ready))).toEqual(['details', 'logs', 'finetune', 'deploy', 'delete']);
    const pending = res('Model');
    expect(actionsFor(pending, deriveState(pending))).toEqual(['details', 'logs', 'delete']);
  });

  it('offers to run a failed Model or Dataset again, not a failed Server', () => {
    const failed = (kind: IResource['kind']) => {
      const r = res(kind, { conditions: [cond(kind === 'Server' ? 'Serving' : 'Complete', 'False', 'Interrupted')] });
      return actionsFor(r, deriveState(r));
    };
    expect(failed('Model')).toEqual(['details', 'logs', 'rerun', 'delete']);
    expect(failed('Dataset')).toContain('rerun');
    expect(failed('Server')).not.toContain('rerun');
  });

  it('offers suspend/open for a running notebook and resume for a suspended one', () => {
    const running = res('Notebook', { ready: true, url: 'http://nb' });
    expect(actionsFor(running, deriveState(running))).toContain('open');
    expect(actionsFor(running, deriveState(running))).toContain('suspend');
    const suspended = res('Notebook', {}, { suspend: true });
    expect(actionsFor(suspended, deriveState(suspended))).toContain('resume');
    expect(actionsFor(suspended, deriveState(suspended))).not.toContain('open');
  });
});
