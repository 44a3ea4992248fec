/**
 * Which step of "Export to Model" a Model is in, for the progress notification.
 */
import { IResource } from '../api/types';
import { deriveState } from './state';

export type ExportStep = 'uploading' | 'building' | 'training' | 'done' | 'failed';

export function exportStep(model: IResource | undefined): { step: ExportStep; detail: string } {
  if (!model) {
    return { step: 'uploading', detail: 'uploading the notebook' };
  }
  const state = deriveState(model);
  const conditions = model.status?.conditions ?? [];
  const get = (t: string) => conditions.find(c => c.type === t);
  if (state.phase === 'failed') {
    return { step: 'failed', detail: `${state.reason ?? 'failed'}: ${state.message ?? ''}`.trim() };
  }
  if (state.phase === 'ready') {
    return { step: 'done', detail: 'ready' };
  }
  const uploaded = get('Uploaded');
  if (model.spec.build?.upload && (!uploaded || uploaded.status !== 'True')) {
    return { step: 'uploading', detail: uploaded?.message || 'uploading the notebook' };
  }
  const built = get('Built');
  if (!built || built.status !== 'True') {
    return { step: 'building', detail: built?.message || 'building the image' };
  }
  return { step: 'training', detail: get('Complete')?.message || 'training' };
}

export function exportMessage(name: string, step: ExportStep, detail: string): string {
  switch (step) {
    case 'done':
      return `Model ${name} is ready.`;
    case 'failed':
      return `Model ${name} failed: ${detail}`;
    default:
      return `Model ${name}: ${step}… ${detail && detail !== step ? `(${detail})` : ''}`.trim();
  }
}
