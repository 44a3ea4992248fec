/**
 * Which step of "Export to Model" a Model is in, for the progress notification.
 */
import { IResource } from '../api/types';
import { deriveState } from './state';

export type ExportStep = 'uploading' | 'building' | 'training' | 'done' | 'failed';

/** The server's view of the upload (GET /export/{name}). */
export interface IUploadState {
  step: string; // waiting, uploading, skipped, done, failed
  bytesSent: number;
  bytesTotal: number;
  message?: string;
}

function uploadDetail(upload: IUploadState): string {
  if (upload.step === 'waiting') {
    return 'waiting for the upload URL';
  }
  const pct = upload.bytesTotal > 0 ? Math.floor((100 * upload.bytesSent) / upload.bytesTotal) : 0;
  return `${pct}% of ${formatBytes(upload.bytesTotal)}`;
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
  upload?: IUploadState
): { step: ExportStep; detail: string } {
  if (upload?.step === 'failed') {
    return { step: 'failed', detail: upload.message || 'the upload failed' };
  }
  if (!model) {
    return { step: 'uploading', detail: upload ? uploadDetail(upload) : 'uploading the notebook' };
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
  if (upload && uploadPending(upload)) {
    return { step: 'uploading', detail: uploadDetail(upload) };
  }
  if (model.spec.build?.upload && (!uploaded || uploaded.status !== 'True')) {
    return { step: 'uploading', detail: uploaded?.message || 'the build context is being checked' };
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
