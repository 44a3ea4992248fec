/**
 * What a resource is doing, derived from its status alone (no server, no widgets).
 */
import { ICondition, IResource } from '../api/types';

export type Phase =
  | 'pending'
  | 'building'
  | 'running'
  | 'ready'
  | 'failed'
  | 'suspended';

export interface IResourceState {
  phase: Phase;
  /** The reason and message that explain the phase, for failures and waits. */
  reason?: string;
  message?: string;
}

const FAILURE = /(fail|error|invalid|backoff|notfound|denied|unschedulable|crash|oom|timeout|deadline)/i;

export function isFailure(condition: ICondition): boolean {
  return condition.status === 'False' && FAILURE.test(condition.reason ?? '');
}

function find(conditions: ICondition[], type: string): ICondition | undefined {
  return conditions.find(c => c.type === type);
}

/**
 * Pending: nothing reported yet. Building: the image is being uploaded or built.
 * Running: the job or workload runs but is not done or not answering yet.
 * Ready: status.ready. Failed: a condition is False with a failure reason.
 */
export function deriveState(resource: IResource): IResourceState {
  const status = resource.status ?? {};
  const conditions = status.conditions ?? [];
  const failed = conditions.find(isFailure);
  if (failed) {
    return { phase: 'failed', reason: failed.reason, message: failed.message };
  }
  if (resource.kind === 'Notebook' && resource.spec.suspend) {
    return { phase: 'suspended' };
  }
  if (status.ready) {
    return { phase: 'ready' };
  }
  if (conditions.length === 0) {
    return { phase: 'pending' };
  }
  const usesBuild = !!resource.spec.build;
  for (const type of ['Uploaded', 'Built']) {
    const c = find(conditions, type);
    if (c && c.status !== 'True' && (usesBuild || type === 'Built')) {
      return { phase: 'building', reason: c.reason, message: c.message };
    }
  }
  const main = find(conditions, 'Complete') ?? find(conditions, 'Serving');
  if (main && main.status === 'True') {
    // Complete/Serving is True but ready is not set yet: the last step is settling.
    return { phase: 'running', reason: main.reason, message: main.message };
  }
  if (main) {
    return { phase: 'running', reason: main.reason, message: main.message };
  }
  const built = find(conditions, 'Built');
  if (built && built.status === 'True') {
    return { phase: 'running', reason: built.reason, message: built.message };
  }
  const last = conditions[conditions.length - 1];
  return { phase: 'pending', reason: last.reason, message: last.message };
}

/** A short label with the reason, for a tooltip or a list row. */
export function describeState(state: IResourceState): string {
  if (state.phase === 'failed') {
    return `failed: ${state.message || state.reason || 'unknown reason'}`;
  }
  return state.reason ? `${state.phase} (${state.reason})` : state.phase;
}

/** Actions the sidebar offers for a resource, by kind and state. */
export type Action =
  | 'details'
  | 'logs'
  | 'delete'
  | 'finetune'
  | 'deploy'
  | 'suspend'
  | 'resume'
  | 'open';

export function actionsFor(resource: IResource, state: IResourceState): Action[] {
  const actions: Action[] = ['details', 'logs'];
  switch (resource.kind) {
    case 'Model':
      if (state.phase === 'ready') {
        actions.push('finetune', 'deploy');
      }
      break;
    case 'Notebook':
      if (resource.spec.suspend) {
        actions.push('resume');
      } else {
        actions.push('suspend');
        if (state.phase === 'ready' && resource.status?.url) {
          actions.push('open');
        }
      }
      break;
  }
  actions.push('delete');
  return actions;
}
