/**
 * A form dialog that stays open until the API accepts it: on submit it calls the API, and
 * the API's field errors are shown beside the fields they name.
 */
import { Dialog, ReactWidget } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { ApiError } from '../api/client';
import { mapFieldErrors } from '../logic/errors';
import { requiredProblem } from '../logic/formChecks';

export interface IFieldSpec {
  name: string;
  label: string;
  /** choice: a select of `options` and "other…", which takes any text. */
  kind?: 'text' | 'textarea' | 'select' | 'number' | 'choice';
  options?: Array<{ value: string; label: string }>;
  placeholder?: string;
  help?: string;
  /** Empty is refused before sending ("required"). */
  required?: boolean;
  /**
   * Number inputs: the bounds the browser's spinner keeps to; a value out of them disables the
   * Dialog's accept button (JupyterLab's Dialog does that while its body has an :invalid input).
   */
  min?: number;
  max?: number;
  /** What is wrong with the value (checked as it is typed; refused before sending). */
  check?: (value: string, values: FormValues) => string | undefined;
  /** Shown below the field but sent anyway (e.g. a name that does not exist yet). */
  warn?: (value: string) => string | undefined;
  /** Fields with the same group are shown together, folded under the group's name. */
  group?: string;
}

export type FormValues = Record<string, string>;

/** A list shown above the fields, folded under its summary (e.g. what an export packs). */
export interface IFormNote {
  summary: string;
  items: string[];
}

export interface IFormState {
  values: FormValues;
  /** The API's errors, by field; each is dropped when its field is edited. */
  errors: Record<string, string[]>;
  general: string[];
  busy: boolean;
  /** A submit was tried: empty required fields now say so. */
  tried: boolean;
}

/** The "other…" entry of a choice: no name (a DNS label) can be this. */
const OTHER = '(other)';

function ChoiceInput(props: {
  common: React.SelectHTMLAttributes<HTMLSelectElement>;
  field: IFieldSpec;
  value: string;
  onChange: (value: string) => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { field, value, trans } = props;
  const options = field.options ?? [];
  const known = value === '' || options.some(o => o.value === value);
  const [other, setOther] = React.useState(!known);
  const typing = other || !known;
  return (
    <div className="jp-substratus-Choice">
      <select
        {...props.common}
        value={typing ? OTHER : value}
        className="jp-mod-styled"
        onChange={e => {
          const chosen = e.target.value;
          setOther(chosen === OTHER);
          props.onChange(chosen === OTHER ? '' : chosen);
        }}
      >
        <option value="">{options.length ? trans.__('choose…') : trans.__('none yet')}</option>
        {options.map(o => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
        <option value={OTHER}>{trans.__('other…')}</option>
      </select>
      {typing && (
        <input
          type="text"
          className="jp-mod-styled"
          name={`${field.name}-other`}
          aria-label={trans.__('%1: another name', field.label)}
          placeholder={field.placeholder ?? trans.__('a name')}
          value={value}
          autoFocus={other}
          onChange={e => props.onChange(e.target.value)}
        />
      )}
    </div>
  );
}

function FieldRow(props: {
  id: string;
  field: IFieldSpec;
  value: string;
  errors: string[];
  warning?: string;
  onChange: (value: string) => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { id, field, value, errors, warning } = props;
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
    case 'choice':
      input = (
        <ChoiceInput
          common={common}
          field={field}
          value={value}
          onChange={props.onChange}
          trans={props.trans}
        />
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
          min={field.min}
          max={field.max}
          step={field.kind === 'number' ? 'any' : undefined}
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
      {warning && (
        <div className="jp-substratus-FieldWarning" role="status">
          {warning}
        </div>
      )}
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
    fieldPaths: Record<string, string[]>,
    private readonly _submit: (values: FormValues) => Promise<unknown>,
    private readonly _trans: TranslationBundle,
    private readonly _note?: IFormNote
  ) {
    super();
    this.addClass('jp-substratus-Form');
    // Only the shown fields own errors: the rest are shown under the form, path and all.
    this._fieldPaths = Object.fromEntries(
      Object.entries(fieldPaths).filter(([name]) => fields.some(f => f.name === name))
    );
    this._state = { values: { ...initial }, errors: {}, general: [], busy: false, tried: false };
  }

  get state(): IFormState {
    return this._state;
  }

  getValue(): FormValues {
    return this._state.values;
  }

  /** What the form itself finds wrong, by field: checks always, "required" once tried. */
  problems(tried = this._state.tried): Record<string, string[]> {
    const { values } = this._state;
    const problems: Record<string, string[]> = {};
    for (const field of this.fields) {
      const value = values[field.name] ?? '';
      const input = this.node.querySelector<HTMLInputElement>(`input[name="${field.name}"]`);
      const problem =
        (tried && field.required && requiredProblem(value, this._trans)) ||
        (input?.validity?.badInput
          ? this._trans.__('must be a number')
          : field.check?.(value, values));
      if (problem) {
        problems[field.name] = [problem];
      }
    }
    return problems;
  }

  /** Call the API; true when it accepted, false (errors shown) when not. */
  async submit(): Promise<boolean> {
    if (this._state.busy) {
      return false;
    }
    if (Object.keys(this.problems(true)).length) {
      this._set({ tried: true, errors: {}, general: [] });
      this._focusFirstError();
      return false;
    }
    this._set({ busy: true, tried: true, errors: {}, general: [] });
    try {
      await this._submit(this._state.values);
      this._set({ busy: false });
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.fieldErrors.length) {
        const { byField, general } = mapFieldErrors(error.fieldErrors, this._fieldPaths);
        this._set({ busy: false, errors: byField, general });
      } else {
        const message = String((error as Error)?.message || error);
        this._set({ busy: false, general: [message] });
      }
      this._focusFirstError();
      return false;
    }
  }

  render(): JSX.Element {
    const s = this._state;
    const problems = this.problems();
    const groups: Array<{ name?: string; fields: IFieldSpec[] }> = [];
    for (const field of this.fields) {
      const last = groups[groups.length - 1];
      if (last && field.group && last.name === field.group) {
        last.fields.push(field);
      } else {
        groups.push({ name: field.group, fields: [field] });
      }
    }
    const row = (f: IFieldSpec) => (
      <FieldRow
        key={f.name}
        id={this._id}
        field={f}
        value={s.values[f.name] ?? ''}
        errors={[...(problems[f.name] ?? []), ...(s.errors[f.name] ?? [])]}
        warning={f.warn?.(s.values[f.name] ?? '')}
        onChange={v => this._edit(f.name, v)}
        trans={this._trans}
      />
    );
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
        {groups.map((group, i) =>
          group.name ? (
            <details
              key={group.name}
              className="jp-substratus-FieldGroup"
              open={this._opened(group, problems) || undefined}
            >
              <summary>{group.name}</summary>
              {group.fields.map(row)}
            </details>
          ) : (
            <React.Fragment key={i}>{group.fields.map(row)}</React.Fragment>
          )
        )}
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

  /** A group opens when one of its fields has something to say, and stays open after. */
  private _opened(
    group: { name?: string; fields: IFieldSpec[] },
    problems: Record<string, string[]>
  ): boolean {
    const { errors } = this._state;
    if (group.name && group.fields.some(f => problems[f.name] || errors[f.name])) {
      this._openGroups.add(group.name);
    }
    return !!group.name && this._openGroups.has(group.name);
  }

  private _openGroups = new Set<string>();
  private _fieldPaths: Record<string, string[]>;
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
