/**
 * What a resource is doing, derived from its status alone (no server, no widgets).
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { ICondition, IResource, IServerInfo } from '../api/types';

export type Phase = 'pending' | 'building' | 'running' | 'ready' | 'failed' | 'suspended';

export interface IResourceState {
  phase: Phase;
  /** The reason and message that explain the phase, for failures and waits. */
  reason?: string;
  message?: string;
}

/** The reasons of a False condition for each phase but running, as the server names them. */
export type Reasons = IServerInfo['reasons'];

/** Before the server has answered: every open condition reads as running. */
export const NO_REASONS: Reasons = { failed: [], pending: [], building: [], suspended: [] };

/** A "False" condition with a failure reason is final until the spec changes. */
export function isFailure(condition: ICondition, reasons: Reasons): boolean {
  return condition.status === 'False' && reasons.failed.includes(condition.reason);
}

const ORDER = ['Uploaded', 'Built', 'Complete', 'Serving'];

/**
 * Failed: a condition is False with a failure reason. Suspended: a suspended Notebook.
 * Ready: status.ready. Pending: nothing reported yet, or waiting for a dependency.
 * Building: the build context is uploaded or the image built. Running: the job or workload
 * runs but is not done or not answering yet.
 */
export function deriveState(resource: IResource, reasons: Reasons): IResourceState {
  const status = resource.status ?? {};
  const conditions = status.conditions ?? [];
  const failed = conditions.find(c => isFailure(c, reasons));
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
  if (reasons.pending.includes(open.reason)) {
    return { phase: 'pending', ...why };
  }
  if (reasons.suspended.includes(open.reason)) {
    return { phase: 'suspended', ...why };
  }
  if (open.type === 'Uploaded' || open.type === 'Built' || reasons.building.includes(open.reason)) {
    return { phase: 'building', ...why };
  }
  return { phase: 'running', ...why };
}

/** A phase as the user reads it. */
export function phaseLabel(phase: Phase, trans: TranslationBundle): string {
  const labels: Record<Phase, string> = {
    pending: trans.__('pending'),
    building: trans.__('building'),
    running: trans.__('running'),
    ready: trans.__('ready'),
    failed: trans.__('failed'),
    suspended: trans.__('suspended')
  };
  return labels[phase];
}

/** A short label with the reason, for a tooltip or a list row. */
export function describeState(state: IResourceState, trans: TranslationBundle): string {
  if (state.phase === 'failed') {
    return trans.__('failed: %1', state.message || state.reason || trans.__('unknown reason'));
  }
  const phase = phaseLabel(state.phase, trans);
  return state.reason ? trans.__('%1 (%2)', phase, state.reason) : phase;
}

/** Actions the sidebar offers for a resource, by kind and state. */
export type Action =
  'details' | 'logs' | 'delete' | 'rerun' | 'finetune' | 'deploy' | 'suspend' | 'resume' | 'open';

/** Whether a kind's workload runs to completion (and so can be run again), as the server says. */
export function runsToCompletion(
  kind: string,
  info: Pick<IServerInfo, 'kinds'> | undefined
): boolean {
  return !!info?.kinds.find(k => k.kind === kind)?.runToCompletion;
}

export function actionsFor(
  resource: IResource,
  state: IResourceState,
  info: Pick<IServerInfo, 'kinds'> | undefined
): Action[] {
  const actions: Action[] = ['details', 'logs'];
  if (resource.kind === 'Model' && state.phase === 'ready') {
    actions.push('finetune', 'deploy');
  }
  if (state.phase === 'failed' && runsToCompletion(resource.kind, info)) {
    actions.push('rerun');
  }
  if (resource.kind === 'Notebook' && resource.spec.suspend) {
    actions.push('resume');
  } else if (resource.kind === 'Notebook') {
    actions.push('suspend');
    if (state.phase === 'ready' && resource.status?.url) {
      actions.push('open');
    }
  }
  actions.push('delete');
  return actions;
}
