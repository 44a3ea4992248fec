/**
 * What a resource is doing, derived from its status alone (no server, no widgets).
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { IResource, IServerInfo, IStatus } from '../api/types';

/** status.phase as the reconcile flow writes it (jupyter_substratus/api/status.py `Phase`). */
export type ApiPhase = NonNullable<IStatus['phase']>;

/** The phase in lower case, as the sidebar's CSS classes and data-phase attributes name it. */
export type Phase = Lowercase<ApiPhase>;

export interface IResourceState {
  phase: Phase;
  /** The reason and message of the condition that explains the phase, for failures and waits. */
  reason?: string;
  message?: string;
}

/** Phases a resource stays in until something changes it (a client waiting stops there). */
export const SETTLED_PHASES: readonly Phase[] = ['ready', 'failed', 'suspended'];

/**
 * The phase is status.phase, as the reconcile flow writes it (a suspended Notebook's spec first). A resource it has not reached yet
 * (no status, or one written by a server that predates phase) is ready when status.ready says so
 * and pending otherwise. The reason and message come from the first condition that is not True:
 * the one that says what is missing or what went wrong.
 */
export function deriveState(resource: IResource): IResourceState {
  const status = resource.status ?? {};
  // A Notebook the user suspended reads so at once, before its workload has stopped.
  const suspended = resource.kind === 'Notebook' && !!resource.spec.suspend;
  const phase: Phase = suspended
    ? 'suspended'
    : status.phase
      ? (status.phase.toLowerCase() as Phase)
      : status.ready
        ? 'ready'
        : 'pending';
  const open = (status.conditions ?? []).find(c => c.status !== 'True');
  if (phase === 'ready' || !open) {
    return { phase };
  }
  return { phase, reason: open.reason, message: open.message };
}

/** A phase as the user reads it. */
export function phaseLabel(phase: Phase, trans: TranslationBundle): string {
  const labels: Record<Phase, string> = {
    pending: trans.__('pending'),
    building: trans.__('building'),
    running: trans.__('running'),
    ready: trans.__('ready'),
    failed: trans.__('failed'),
    suspended: trans.__('suspended'),
    stalled: trans.__('stalled')
  };
  return labels[phase];
}

/** A short label with the reason, for a tooltip or a list row. */
export function describeState(state: IResourceState, trans: TranslationBundle): string {
  if (state.phase === 'failed') {
    return trans.__('failed: %1', state.message || state.reason || trans.__('unknown reason'));
  }
  const phase = phaseLabel(state.phase, trans);
  const news = state.reason && state.reason.toLowerCase() !== state.phase;
  return news ? trans.__('%1 (%2)', phase, state.reason) : phase;
}

/** Actions the sidebar offers for a resource, by kind and state. */
export type Action =
  | 'details'
  | 'logs'
  | 'delete'
  | 'rerun'
  | 'cancel'
  | 'finetune'
  | 'deploy'
  | 'suspend'
  | 'resume'
  | 'open';

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
  if (runsToCompletion(resource.kind, info)) {
    if (state.phase === 'failed') {
      actions.push('rerun');
    } else if (!SETTLED_PHASES.includes(state.phase)) {
      actions.push('cancel');
    }
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
