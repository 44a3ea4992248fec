/**
 * Which step of "Export to Model" a Model is in, for the progress notification.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { IExportStatus, IResource } from '../api/types';
import { deriveState } from './state';

export type ExportStep = 'uploading' | 'building' | 'training' | 'done' | 'failed';

/** The server's view of the upload (GET /export/{name}). */
export type IUploadState = Pick<IExportStatus, 'step' | 'bytesSent' | 'bytesTotal'> &
  Partial<Pick<IExportStatus, 'message'>>;

function uploadDetail(upload: IUploadState, trans: TranslationBundle): string {
  if (upload.step === 'waiting') {
    return trans.__('waiting for the upload URL');
  }
  const pct = upload.bytesTotal > 0 ? Math.floor((100 * upload.bytesSent) / upload.bytesTotal) : 0;
  return trans.__('%1% of %2', pct, formatBytes(upload.bytesTotal));
}

export function formatBytes(n: number): string {
  if (n < 1024) {
    return `${n} B`;
  }
  if (n < 1024 * 1024) {
    return `${(n / 1024).toFixed(1)} KiB`;
  }
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** True while the upload itself still needs watching. */
export function uploadPending(upload: IUploadState | undefined): boolean {
  return !upload || upload.step === 'waiting' || upload.step === 'uploading';
}

export function exportStep(
  model: IResource | undefined,
  upload: IUploadState | undefined,
  trans: TranslationBundle
): { step: ExportStep; detail: string } {
  if (upload?.step === 'failed') {
    return { step: 'failed', detail: upload.message || trans.__('the upload failed') };
  }
  if (!model) {
    return {
      step: 'uploading',
      detail: upload ? uploadDetail(upload, trans) : trans.__('uploading the notebook')
    };
  }
  const state = deriveState(model);
  const conditions = model.status?.conditions ?? [];
  const get = (t: string) => conditions.find(c => c.type === t);
  if (state.phase === 'failed') {
    return {
      step: 'failed',
      detail: `${state.reason ?? trans.__('failed')}: ${state.message ?? ''}`.trim()
    };
  }
  if (state.phase === 'ready') {
    return { step: 'done', detail: trans.__('ready') };
  }
  const uploaded = get('Uploaded');
  if (upload && uploadPending(upload)) {
    return { step: 'uploading', detail: uploadDetail(upload, trans) };
  }
  if (model.spec.build?.upload && (!uploaded || uploaded.status !== 'True')) {
    return {
      step: 'uploading',
      detail: uploaded?.message || trans.__('the build context is being checked')
    };
  }
  const built = get('Built');
  if (!built || built.status !== 'True') {
    return { step: 'building', detail: built?.message || trans.__('building the image') };
  }
  return { step: 'training', detail: get('Complete')?.message || trans.__('training') };
}

export function exportMessage(
  name: string,
  step: ExportStep,
  detail: string,
  trans: TranslationBundle
): string {
  const steps: Record<ExportStep, string> = {
    uploading: trans.__('uploading'),
    building: trans.__('building'),
    training: trans.__('training'),
    done: trans.__('done'),
    failed: trans.__('failed')
  };
  switch (step) {
    case 'done':
      return trans.__('Model %1 is ready.', name);
    case 'failed':
      return trans.__('Model %1 failed: %2', name, detail);
    default:
      return detail && detail !== steps[step]
        ? trans.__('Model %1: %2… (%3)', name, steps[step], detail)
        : trans.__('Model %1: %2…', name, steps[step]);
  }
}
