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

/**
 * The operator's reasons (jupyter_substratus/api/workloads.py): a "False" condition with one of
 * FAILURE_REASONS is final until the spec changes; any other "False" reason is on its way.
 * Reasons a newer operator adds are read by their shape.
 */
export const FAILURE_REASONS: ReadonlySet<string> = new Set([
  'InvalidSpec',
  'JobFailed',
  'PodFailed',
  'BuildFailed',
  'DependencyFailed',
  'ChecksumMismatch',
  'UploadUnsupported',
  'Interrupted'
]);
const FAILURE_SHAPE = /(Failed|Mismatch|Unsupported)$|^Invalid/;
/** Waiting for another resource: pending, not failed (the operator wakes it up). */
const WAITING_REASONS: ReadonlySet<string> = new Set(['WaitingForDependency', 'DependencyNotFound']);

export function isFailure(condition: ICondition): boolean {
  const reason = condition.reason ?? '';
  return condition.status === 'False' && (FAILURE_REASONS.has(reason) || FAILURE_SHAPE.test(reason));
}

const ORDER = ['Uploaded', 'Built', 'Complete', 'Serving'];

/**
 * Failed: a condition is False with a failure reason. Suspended: a suspended Notebook.
 * Ready: status.ready. Pending: nothing reported yet, or waiting for a dependency.
 * Building: the build context is uploaded or the image built. Running: the job or workload
 * runs but is not done or not answering yet.
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
  const rank = (type: string) => (ORDER.includes(type) ? ORDER.indexOf(type) : ORDER.length);
  const sorted = [...conditions].sort((a, b) => rank(a.type) - rank(b.type));
  const open = sorted.find(c => c.status !== 'True');
  if (!open) {
    // Every condition is True but ready is not set yet: the last step is settling.
    const last = conditions[conditions.length - 1];
    return { phase: 'running', reason: last.reason, message: last.message };
  }
  const why = { reason: open.reason, message: open.message };
  if (WAITING_REASONS.has(open.reason ?? '')) {
    return { phase: 'pending', ...why };
  }
  if (open.reason === 'Suspended') {
    return { phase: 'suspended', ...why };
  }
  if (open.type === 'Uploaded' || open.type === 'Built' || open.reason === 'Building' || open.reason === 'AwaitingUpload') {
    return { phase: 'building', ...why };
  }
  return { phase: 'running', ...why };
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
  | 'rerun'
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
      if (state.phase === 'failed') {
        actions.push('rerun');
      }
      break;
    case 'Dataset':
      if (state.phase === 'failed') {
        actions.push('rerun');
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
