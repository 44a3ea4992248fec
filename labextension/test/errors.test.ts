import {
  errorMessageOf,
  fieldErrorsOf,
  mapFieldErrors,
  normalisePath,
  statusMessage
} from '../src/logic/errors';
import { FIELD_PATHS } from '../src/logic/manifests';

describe('errorMessageOf', () => {
  it("reads our message and an OpenAI-compatible server's error.message", () => {
    expect(errorMessageOf({ message: 'no such Model' })).toBe('no such Model');
    expect(errorMessageOf({ error: { message: 'max_tokens: 128 new tokens do not fit' } })).toBe(
      'max_tokens: 128 new tokens do not fit'
    );
    expect(errorMessageOf({ error: 'x' })).toBeUndefined();
    expect(errorMessageOf('text')).toBeUndefined();
  });
});

describe('statusMessage', () => {
  it('says something for an error answer without our message', () => {
    expect(statusMessage(400, '', '')).toBe('400 Bad Request'); // HTTP/2 sends no reason phrase
    expect(statusMessage(413, 'Payload Too Large', '')).toBe('413 Payload Too Large');
    expect(
      statusMessage(403, '', '<html><title>403: Forbidden</title><body>...</body></html>')
    ).toBe('403: Forbidden');
    expect(statusMessage(502, '', 'upstream timed out')).toBe('upstream timed out');
    expect(statusMessage(418, '', '<p>teapot</p>')).toBe('418 error');
  });
});

describe('fieldErrorsOf', () => {
  it('reads the errors list of an API error body', () => {
    expect(
      fieldErrorsOf({
        message: 'invalid Model',
        errors: [{ path: 'metadata.name', message: 'bad' }]
      })
    ).toEqual([{ path: 'metadata.name', message: 'bad' }]);
  });

  it('tolerates bodies without field errors', () => {
    expect(fieldErrorsOf(undefined)).toEqual([]);
    expect(fieldErrorsOf({ message: 'boom' })).toEqual([]);
    expect(fieldErrorsOf({ errors: 'nope' })).toEqual([]);
  });
});

describe('mapFieldErrors', () => {
  it('puts each error beside the field that fills its path, the longest prefix winning', () => {
    const { byField, general } = mapFieldErrors(
      [
        { path: 'spec.resources.gpu.count', message: 'must be at least 1' },
        { path: 'spec.resources.gpu.type', message: 'unknown GPU type' },
        { path: 'metadata.name', message: 'lower-case only' },
        { path: 'spec.params[epochs]', message: 'not a number' }
      ],
      FIELD_PATHS.fineTune
    );
    expect(byField).toEqual({
      gpuCount: ['must be at least 1'],
      gpuType: ['unknown GPU type'],
      name: ['lower-case only'],
      params: ['not a number']
    });
    expect(general).toEqual([]);
  });

  it('keeps errors that no field owns as general errors, with their path', () => {
    const { byField, general } = mapFieldErrors(
      [
        { path: 'spec.command', message: 'not allowed' },
        { path: '', message: 'conflict' }
      ],
      FIELD_PATHS.dataset
    );
    expect(byField).toEqual({});
    expect(general).toEqual(['spec.command: not allowed', 'conflict']);
  });

  it('does not match a path that merely starts with the same letters', () => {
    const { byField } = mapFieldErrors(
      [{ path: 'spec.imagePullPolicy', message: 'x' }],
      FIELD_PATHS.dataset
    );
    expect(byField.image).toBeUndefined();
  });

  it('normalises bracketed keys', () => {
    expect(normalisePath('spec.params[urls]')).toBe('spec.params.urls');
    expect(normalisePath('spec.command[0]')).toBe('spec.command.0');
  });
});

describe('export field paths', () => {
  it('maps the export API\'s "model." paths and leaves the notebook path general', () => {
    const { byField, general } = mapFieldErrors(
      [
        { path: 'model.metadata.name', message: 'bad name' },
        { path: 'model.spec.resources.gpu.count', message: 'must be at least 1' },
        { path: 'path', message: 'no such file' }
      ],
      FIELD_PATHS.export
    );
    expect(byField).toEqual({ name: ['bad name'], gpuCount: ['must be at least 1'] });
    expect(general).toEqual(['path: no such file']);
  });
});
