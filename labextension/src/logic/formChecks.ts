/**
 * What the create forms check before sending, and the choices they offer (pure: no widgets).
 * The API checks the same again; these only say it sooner.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { IResource, IServerInfo } from '../api/types';
import { parseParams, ParamValue } from './manifests';
import { deriveState, phaseLabel } from './state';

/** One param the built-in trainer knows, as GET / serves it (trainer_params.py). */
export type TrainerParam = IServerInfo['trainerParams'][number];

export interface IChoice {
  value: string;
  label: string;
}

/** The existing resources to pick from: ready ones first, each with its state. */
export function resourceChoices(
  resources: readonly IResource[],
  trans: TranslationBundle
): IChoice[] {
  const rows = resources.map(r => {
    const phase = deriveState(r).phase;
    return { name: r.metadata.name, ready: phase === 'ready', state: phaseLabel(phase, trans) };
  });
  rows.sort((a, b) => Number(b.ready) - Number(a.ready) || a.name.localeCompare(b.name));
  return rows.map(r => ({ value: r.name, label: trans.__('%1 (%2)', r.name, r.state) }));
}

/** A warning (not an error) when a fine-tune names a Model or Dataset that does not exist. */
export function missingDependency(
  kind: 'Model' | 'Dataset',
  name: string,
  resources: readonly IResource[],
  trans: TranslationBundle
): string | undefined {
  const wanted = name.trim();
  if (!wanted || resources.some(r => r.metadata.name === wanted)) {
    return undefined;
  }
  return trans.__('no %1 named %2 yet; the fine-tune will wait for it', kind, wanted);
}

export function requiredProblem(value: string, trans: TranslationBundle): string | undefined {
  return value.trim() ? undefined : trans.__('required');
}

/** A GPU type with no GPUs asks for nothing: refused, as the API refuses it. */
/** spec.suspendAfterIdle as the CRD takes it (a whole number of s, m or h), or empty. */
export function idleProblem(value: string, trans: TranslationBundle): string | undefined {
  const text = value.trim();
  return !text || /^[1-9][0-9]{0,5}[smh]$/.test(text)
    ? undefined
    : trans.__('must be a whole number and s, m or h, e.g. 30m');
}

export function gpuProblem(
  gpuType: string,
  gpuCount: string,
  trans: TranslationBundle
): string | undefined {
  if (!gpuType || gpuType === 'none') {
    return undefined;
  }
  const count = Number(gpuCount);
  if (gpuCount.trim() === '' || !Number.isInteger(count) || count < 1) {
    return trans.__('a GPU type needs a GPU count of 1 or more (or choose No GPU)');
  }
  return undefined;
}

/** The typed value of a param field; undefined when left empty (the trainer's default). */
export function paramValue(param: TrainerParam, text: string): ParamValue | undefined {
  const trimmed = text.trim();
  if (!trimmed) {
    return undefined;
  }
  if (param.type === 'boolean') {
    return trimmed === 'true';
  }
  if (param.type === 'integer' || param.type === 'number') {
    return Number(trimmed);
  }
  return trimmed;
}

/** Why a param field's text is not a value the trainer takes, or undefined when it is. */
export function paramProblem(
  param: TrainerParam,
  text: string,
  trans: TranslationBundle
): string | undefined {
  const trimmed = text.trim();
  if (!trimmed || param.type === 'string') {
    return undefined;
  }
  if (param.type === 'boolean') {
    return trimmed === 'true' || trimmed === 'false'
      ? undefined
      : trans.__('must be true or false, not "%1"', trimmed);
  }
  const number = Number(trimmed);
  if (!Number.isFinite(number)) {
    return trans.__('must be a number, not "%1"', trimmed);
  }
  if (param.type === 'integer' && !Number.isInteger(number)) {
    return trans.__('must be an integer, not "%1"', trimmed);
  }
  if (param.minimum !== undefined && number < param.minimum) {
    return trans.__('must be at least %1, not %2', param.minimum, trimmed);
  }
  if (param.maximum !== undefined && number > param.maximum) {
    return trans.__('must be at most %1, not %2', param.maximum, trimmed);
  }
  return undefined;
}

/** The form field that holds a trainer param. */
export function paramField(name: string): string {
  return `param:${name}`;
}

/** The typed params the form's param fields hold, by param name (empty fields left out). */
export function typedParams(
  params: readonly TrainerParam[],
  values: Record<string, string>
): Record<string, ParamValue> {
  const typed: Record<string, ParamValue> = {};
  for (const param of params) {
    const value = paramValue(param, values[paramField(param.name)] ?? '');
    if (value !== undefined) {
      typed[param.name] = value;
    }
  }
  return typed;
}

/** What is wrong with the free "key=value" params: their form, or a known param's value. */
export function otherParamsProblem(
  text: string,
  params: readonly TrainerParam[],
  trans: TranslationBundle
): string | undefined {
  let parsed: Record<string, ParamValue>;
  try {
    parsed = parseParams(text, trans);
  } catch (error) {
    return (error as Error).message;
  }
  for (const [key, value] of Object.entries(parsed)) {
    const param = params.find(p => p.name === key);
    const problem = param && paramProblem(param, String(value), trans);
    if (problem) {
      return trans.__('%1: %2', key, problem);
    }
  }
  return undefined;
}
