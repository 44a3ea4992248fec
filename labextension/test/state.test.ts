import { IResource } from '../src/api/types';
import { actionsFor, deriveState, describeState, phaseLabel } from '../src/logic/state';
import { cond, info, trans } from './fixtures';

function res(kind: IResource['kind'], status?: IResource['status'], spec = {}): IResource {
  return { apiVersion: 'substratus.ai/v1', kind, metadata: { name: 'x' }, spec, status };
}

describe('deriveState', () => {
  it('reads status.phase, in lower case', () => {
    for (const phase of ['Pending', 'Building', 'Running', 'Ready', 'Failed', 'Stalled'] as const) {
      expect(deriveState(res('Model', { phase })).phase).toBe(phase.toLowerCase());
    }
  });

  it('takes the reason and message from the first condition that is not True', () => {
    const r = res('Model', {
      phase: 'Failed',
      conditions: [
        cond('Built', 'True', 'ImageGiven'),
        cond('Complete', 'False', 'JobFailed', 'exit code 1')
      ]
    });
    const state = deriveState(r);
    expect(state).toEqual({ phase: 'failed', reason: 'JobFailed', message: 'exit code 1' });
    expect(describeState(state, trans)).toBe('failed: exit code 1');
  });

  it('does not guess from the reasons: an open condition with phase Running is running', () => {
    const r = res('Model', {
      phase: 'Running',
      conditions: [cond('Complete', 'False', 'JobFailed', 'retrying')]
    });
    expect(deriveState(r).phase).toBe('running');
    expect(describeState(deriveState(r), trans)).toBe('running (JobFailed)');
  });

  it('does not repeat a reason that only names the phase', () => {
    const r = res('Model', {
      phase: 'Running',
      conditions: [cond('Complete', 'False', 'Running')]
    });
    expect(describeState(deriveState(r), trans)).toBe('running');
  });

  it('shows a stalled wait with what is missing', () => {
    const r = res('Model', {
      phase: 'Stalled',
      conditions: [cond('Complete', 'False', 'DependencyNotFound', 'Model opt-125m does not exist')]
    });
    const state = deriveState(r);
    expect(state).toEqual({
      phase: 'stalled',
      reason: 'DependencyNotFound',
      message: 'Model opt-125m does not exist'
    });
    expect(describeState(state, trans)).toBe('stalled (DependencyNotFound)');
    expect(phaseLabel('stalled', trans)).toBe('stalled');
  });

  it('keeps no reason on a ready resource', () => {
    const r = res('Server', { phase: 'Ready', conditions: [cond('Serving', 'True', 'Ready')] });
    expect(deriveState(r)).toEqual({ phase: 'ready' });
  });

  it('is pending, or ready by status.ready, before the reconcile flow has written a phase', () => {
    expect(deriveState(res('Dataset')).phase).toBe('pending');
    expect(deriveState(res('Dataset', { conditions: [] })).phase).toBe('pending');
    expect(deriveState(res('Dataset', { ready: true })).phase).toBe('ready');
  });

  it('shows a Notebook the user suspended as suspended at once', () => {
    expect(deriveState(res('Notebook', { phase: 'Ready' }, { suspend: true })).phase).toBe(
      'suspended'
    );
  });
});

describe('actionsFor', () => {
  it('offers fine-tune and deploy only for a ready Model', () => {
    const ready = res('Model', { phase: 'Ready' });
    expect(actionsFor(ready, deriveState(ready), info)).toEqual([
      'details',
      'logs',
      'finetune',
      'deploy',
      'delete'
    ]);
  });

  it('offers to cancel a Model or Dataset until it settles, not a Server', () => {
    const of = (kind: IResource['kind'], phase: 'Running' | 'Pending' | 'Stalled') => {
      const r = res(kind, { phase });
      return actionsFor(r, deriveState(r), info);
    };
    expect(of('Model', 'Running')).toEqual(['details', 'logs', 'cancel', 'delete']);
    expect(of('Dataset', 'Pending')).toContain('cancel');
    expect(of('Model', 'Stalled')).toContain('cancel');
    expect(of('Server', 'Running')).not.toContain('cancel');
  });

  it('offers to run a failed Model or Dataset again, not a failed Server', () => {
    const failed = (kind: IResource['kind']) => {
      const r = res(kind, { phase: 'Failed' });
      return actionsFor(r, deriveState(r), info);
    };
    expect(failed('Model')).toEqual(['details', 'logs', 'rerun', 'delete']);
    expect(failed('Dataset')).toContain('rerun');
    expect(failed('Server')).not.toContain('rerun');
  });

  it('shows a cancelled run as failed with the reason Cancelled, to run again', () => {
    const message = 'cancelled by the user at 2026-01-02T03:04:05Z';
    const r = res('Model', {
      phase: 'Failed',
      conditions: [cond('Complete', 'False', 'Cancelled', message)]
    });
    const state = deriveState(r);
    expect(state).toEqual({ phase: 'failed', reason: 'Cancelled', message });
    expect(actionsFor(r, state, info)).toEqual(['details', 'logs', 'rerun', 'delete']);
  });

  it('offers no rerun or cancel before the server has said which kinds run to completion', () => {
    const r = res('Model', { phase: 'Failed' });
    expect(actionsFor(r, deriveState(r), undefined)).not.toContain('rerun');
    const running = res('Model', { phase: 'Running' });
    expect(actionsFor(running, deriveState(running), undefined)).not.toContain('cancel');
  });

  it('offers suspend/open for a running notebook and resume for a suspended one', () => {
    const running = res('Notebook', { phase: 'Ready', ready: true, url: 'http://nb' });
    expect(actionsFor(running, deriveState(running), info)).toContain('open');
    expect(actionsFor(running, deriveState(running), info)).toContain('suspend');
    const suspended = res('Notebook', {}, { suspend: true });
    expect(actionsFor(suspended, deriveState(suspended), info)).toContain('resume');
    expect(actionsFor(suspended, deriveState(suspended), info)).not.toContain('open');
  });
});
