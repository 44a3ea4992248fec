/**
 * A form dialog that stays open until the API accepts it: on submit it calls the API, and
 * the API's field errors are shown beside the fields they name.
 */
import { Dialog, ReactWidget } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { ApiError } from '../api/client';
import { mapFieldErrors } from '../logic/errors';

export interface IFieldSpec {
  name: string;
  label: string;
  kind?: 'text' | 'textarea' | 'select' | 'number';
  options?: Array<{ value: string; label: string }>;
  placeholder?: string;
  help?: string;
}

export type FormValues = Record<string, string>;

/** A list shown above the fields, folded under its summary (e.g. what an export packs). */
export interface IFormNote {
  summary: string;
  items: string[];
}

export interface IFormState {
  values: FormValues;
  errors: Record<string, string[]>;
  general: string[];
  busy: boolean;
}

function FieldRow(props: {
  id: string;
  field: IFieldSpec;
  value: string;
  errors: string[];
  onChange: (value: string) => void;
}): JSX.Element {
  const { id, field, value, errors } = props;
  const inputId = `${id}-${field.name}`;
  const errorId = `${inputId}-error`;
  const common = {
    id: inputId,
    name: field.name,
    value,
    'aria-invalid': errors.length > 0,
    'aria-describedby': errors.length ? errorId : undefined,
    onChange: (e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>) =>
      props.onChange(e.target.value)
  };
  let input: JSX.Element;
  switch (field.kind) {
    case 'textarea':
      input = (
        <textarea {...common} rows={3} className="jp-mod-styled" placeholder={field.placeholder} />
      );
      break;
    case 'select':
      input = (
        <select {...common} className="jp-mod-styled">
          {(field.options ?? []).map(o => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      );
      break;
    default:
      input = (
        <input
          {...common}
          type={field.kind === 'number' ? 'number' : 'text'}
          className="jp-mod-styled"
          placeholder={field.placeholder}
        />
      );
  }
  return (
    <div
      // Not jp-mod-error: Dialog disables its accept button while one is in the body.
      className={`jp-substratus-Field${errors.length ? ' jp-substratus-mod-invalid' : ''}`}
      data-field={field.name}
    >
      <label htmlFor={inputId}>{field.label}</label>
      {input}
      {field.help && <div className="jp-substratus-FieldHelp">{field.help}</div>}
      {errors.length > 0 && (
        <div id={errorId} className="jp-substratus-FieldError" role="alert">
          {errors.join('; ')}
        </div>
      )}
    </div>
  );
}

let nextId = 0;

/** The dialog body: the fields, their errors and the errors no field owns. */
export class FormBody extends ReactWidget {
  constructor(
    readonly fields: IFieldSpec[],
    initial: FormValues,
    private readonly _fieldPaths: Record<string, string[]>,
    private readonly _submit: (values: FormValues) => Promise<unknown>,
    private readonly _trans: TranslationBundle,
    private readonly _note?: IFormNote
  ) {
    super();
    this.addClass('jp-substratus-Form');
    this._state = { values: { ...initial }, errors: {}, general: [], busy: false };
  }

  get state(): IFormState {
    return this._state;
  }

  getValue(): FormValues {
    return this._state.values;
  }

  /** Call the API; true when it accepted, false (errors shown) when not. */
  async submit(): Promise<boolean> {
    if (this._state.busy) {
      return false;
    }
    this._set({ busy: true, errors: {}, general: [] });
    try {
      await this._submit(this._state.values);
      this._set({ busy: false });
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.fieldErrors.length) {
        const { byField, general } = mapFieldErrors(error.fieldErrors, this._fieldPaths);
        this._set({ busy: false, errors: byField, general });
      } else {
        this._set({ busy: false, general: [String((error as Error)?.message ?? error)] });
      }
      this._focusFirstError();
      return false;
    }
  }

  render(): JSX.Element {
    const s = this._state;
    return (
      <form
        className="jp-substratus-FormInner"
        onSubmit={e => e.preventDefault()}
        aria-busy={s.busy}
      >
        {this._note && (
          <details className="jp-substratus-FormNote">
            <summary>{this._note.summary}</summary>
            <ul>
              {this._note.items.map(item => (
                <li key={item}>{item}</li>
              ))}
            </ul>
          </details>
        )}
        {this.fields.map(f => (
          <FieldRow
            key={f.name}
            id={this._id}
            field={f}
            value={s.values[f.name] ?? ''}
            errors={s.errors[f.name] ?? []}
            onChange={v => this._edit(f.name, v)}
          />
        ))}
        {s.general.length > 0 && (
          <div className="jp-substratus-FormError" role="alert">
            {s.general.map((g, i) => (
              <div key={i}>{g}</div>
            ))}
          </div>
        )}
        {s.busy && <div className="jp-substratus-FormBusy">{this._trans.__('Sending…')}</div>}
      </form>
    );
  }

  /** A new value; the API's complaint about the old one no longer applies. */
  private _edit(field: string, value: string): void {
    const errors = { ...this._state.errors };
    delete errors[field];
    this._set({ values: { ...this._state.values, [field]: value }, errors });
  }

  private _set(patch: Partial<IFormState>): void {
    this._state = { ...this._state, ...patch };
    this.update();
  }

  private _focusFirstError(): void {
    requestAnimationFrame(() => {
      const node = this.node.querySelector<HTMLElement>('[aria-invalid="true"]');
      node?.focus();
    });
  }

  private _state: IFormState;
  private _id = `jp-substratus-form-${nextId++}`;
}

/** A Dialog whose accept button submits the form and closes only on success. */
class SubmitDialog extends Dialog<FormValues> {
  constructor(
    private readonly _form: FormBody,
    options: Partial<Dialog.IOptions<FormValues>>
  ) {
    super({ ...options, body: _form });
    this._buttonList = options.buttons ?? [];
    this._defaultIndex = options.defaultButton ?? this._buttonList.length - 1;
  }

  resolve(index?: number): void {
    const button = this._buttonList[index ?? this._defaultIndex];
    if (!button || !button.accept) {
      super.resolve(index);
      return;
    }
    void this._form.submit().then(ok => {
      if (ok) {
        super.resolve(index);
      }
    });
  }

  private _buttonList: readonly Dialog.IButton[];
  private _defaultIndex: number;
}

export interface IFormDialogOptions {
  title: string;
  fields: IFieldSpec[];
  initial: FormValues;
  fieldPaths: Record<string, string[]>;
  acceptLabel: string;
  submit: (values: FormValues) => Promise<unknown>;
  trans: TranslationBundle;
  note?: IFormNote;
}

/** Show the form; resolves with the values the API accepted, or undefined on cancel. */
export async function showFormDialog(options: IFormDialogOptions): Promise<FormValues | undefined> {
  const { trans } = options;
  const body = new FormBody(
    options.fields,
    options.initial,
    options.fieldPaths,
    options.submit,
    trans,
    options.note
  );
  const dialog = new SubmitDialog(body, {
    title: options.title,
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.okButton({ label: options.acceptLabel })
    ],
    focusNodeSelector: 'input, select, textarea'
  });
  dialog.addClass('jp-substratus-Dialog');
  const result = await dialog.launch();
  return result.button.accept ? body.getValue() : undefined;
}
