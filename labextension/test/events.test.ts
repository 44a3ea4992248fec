import { IResource } from '../src/api/types';
import { applyChange, emptyLists, parseChangeEvent, replaceKind } from '../src/logic/events';
import { exportMessage, exportStep } from '../src/logic/exportProgress';
import { completionDelta, SseParser } from '../src/logic/sse';
import { cond, trans } from './fixtures';

const ds = (name: string, ready = false): IResource => ({
  apiVersion: 'substratus.ai/v1',
  kind: 'Dataset',
  metadata: { name },
  spec: { image: 'i' },
  status: { ready }
});

describe('change events', () => {
  it('parses Kubernetes watch-shaped events and rejects others', () => {
    expect(parseChangeEvent(JSON.stringify({ type: 'ADDED', object: ds('a') }))?.type).toBe(
      'ADDED'
    );
    expect(parseChangeEvent(JSON.stringify({ type: 'modified', object: ds('a') }))?.type).toBe(
      'MODIFIED'
    );
    expect(parseChangeEvent('not json')).toBeUndefined();
    expect(
      parseChangeEvent(
        JSON.stringify({ type: 'ADDED', object: { kind: 'Pod', metadata: { name: 'p' } } })
      )
    ).toBeUndefined();
  });

  it('adds, replaces and deletes by name, keeping the list sorted and the input unchanged', () => {
    const start = replaceKind(emptyLists(), 'Dataset', [ds('b')]);
    const added = applyChange(start, { type: 'ADDED', object: ds('a') });
    expect(added.Dataset.map(r => r.metadata.name)).toEqual(['a', 'b']);
    expect(start.Dataset).toHaveLength(1);
    const modified = applyChange(added, { type: 'MODIFIED', object: ds('a', true) });
    expect(modified.Dataset[0].status?.ready).toBe(true);
    expect(modified.Dataset).toHaveLength(2);
    const deleted = applyChange(modified, { type: 'DELETED', object: ds('b') });
    expect(deleted.Dataset.map(r => r.metadata.name)).toEqual(['a']);
    expect(deleted.Model).toBe(start.Model);
  });
});

describe('export progress', () => {
  const model = (conditions: any[], ready = false, phase?: 'Failed'): IResource => ({
    apiVersion: 'substratus.ai/v1',
    kind: 'Model',
    metadata: { name: 'm' },
    spec: { build: { upload: { md5Checksum: 'x', requestID: 'r' } }, model: { name: 'base' } },
    status: { ready, conditions, phase }
  });

  it('moves through upload, build, training and done', () => {
    expect(exportStep(undefined, undefined, trans).step).toBe('uploading');
    expect(
      exportStep(
        model([{ type: 'Uploaded', status: 'False', reason: 'AwaitingUpload' }]),
        undefined,
        trans
      ).step
    ).toBe('uploading');
    expect(
      exportStep(
        model([
          { type: 'Uploaded', status: 'True', reason: 'Found' },
          { type: 'Built', status: 'False', reason: 'JobNotComplete' }
        ]),
        undefined,
        trans
      ).step
    ).toBe('building');
    expect(
      exportStep(
        model([
          { type: 'Uploaded', status: 'True', reason: 'Found' },
          { type: 'Built', status: 'True', reason: 'JobComplete' },
          { type: 'Complete', status: 'False', reason: 'JobNotComplete', message: 'training' }
        ]),
        undefined,
        trans
      ).step
    ).toBe('training');
    expect(exportStep(model([], true), undefined, trans).step).toBe('done');
  });

  it('reports a failure with its reason', () => {
    const s = exportStep(
      model(
        [{ type: 'Built', status: 'False', reason: 'BuildFailed', message: 'pip failed' }],
        false,
        'Failed'
      ),
      undefined,
      trans
    );
    expect(s).toEqual({ step: 'failed', detail: 'BuildFailed: pip failed' });
    expect(exportMessage('m', s.step, s.detail, trans)).toBe(
      'Model m failed: BuildFailed: pip failed'
    );
  });
});

describe('SSE completions', () => {
  it('parses events across chunk boundaries and extracts deltas', () => {
    const p = new SseParser();
    expect(p.push('data: {"choices":[{"text":"Hel"}]}\n')).toEqual([]);
    const events = p.push('\ndata: {"choices":[{"delta":{"content":"lo"}}]}\n\ndata: [DONE]\n\n');
    expect(events.map(e => completionDelta(e.data))).toEqual(['Hel', 'lo', undefined]);
  });
});

describe('export upload progress', () => {
  it('reports the upload from the server before the Model moves', () => {
    expect(
      exportStep(undefined, { step: 'waiting', bytesSent: 0, bytesTotal: 2048 }, trans)
    ).toEqual({
      step: 'uploading',
      detail: 'waiting for the upload URL'
    });
    const model: IResource = {
      apiVersion: 'substratus.ai/v1',
      kind: 'Model',
      metadata: { name: 'm' },
      spec: { build: { upload: { md5Checksum: 'x', requestID: 'r' } } },
      status: { conditions: [cond('Uploaded', 'False', 'AwaitingUpload')] }
    };
    expect(
      exportStep(model, { step: 'uploading', bytesSent: 1024, bytesTotal: 4096 }, trans)
    ).toEqual({
      step: 'uploading',
      detail: '25% of 4.0 KiB'
    });
    expect(
      exportStep(
        model,
        { step: 'failed', bytesSent: 0, bytesTotal: 1, message: 'signed URL expired' },
        trans
      )
    ).toEqual({
      step: 'failed',
      detail: 'signed URL expired'
    });
  });
});
