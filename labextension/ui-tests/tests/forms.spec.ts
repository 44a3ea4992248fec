/**
 * The create forms guide: the fine-tune form and Export to Model offer the existing Models and
 * Datasets (ready ones first, with their state), warn of a name that names nothing yet, refuse
 * a wrong trainer param before sending, and show the server's message of a 4xx. Screenshots of
 * the fine-tune dialog in the light and the dark theme. Everything it needs it makes itself.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';

import { chooseName } from './choose';
import { openSidebar, row, SCREENSHOTS, SIDEBAR_ID } from './helpers';

const EXAMPLE_NOTEBOOK = path.resolve(
  __dirname,
  '../../../examples/notebook-from-directory/finetune.ipynb'
);
const RUN = Date.now().toString(36).slice(-5);
const BASE = `fbase-${RUN}`;
const DATA = `fdata-${RUN}`;
const WAITING = `fwait-${RUN}`;

async function submit(page: IJupyterLabPageFixture, opener: string, values: Record<string, string>, accept: string) {
  await page.locator(`#${SIDEBAR_ID} button[aria-label="${opener}"]`).click();
  const dialog = page.locator('.jp-Dialog');
  for (const [field, value] of Object.entries(values)) {
    await dialog.locator(`[data-field="${field}"] input, [data-field="${field}"] textarea`).fill(value);
  }
  await dialog.getByRole('button', { name: accept }).click();
  await expect(dialog).toHaveCount(0);
}

/** The labels of a choice's existing resources (not "choose…" nor "other…"). */
async function choiceLabels(dialog: Locator, field: string): Promise<string[]> {
  const options = dialog.locator(`[data-field="${field}"] select option`);
  const labels = await options.evaluateAll(os =>
    os
      .map(o => o as HTMLOptionElement)
      .filter(o => o.value && o.value !== '(other)')
      .map(o => o.textContent ?? '')
  );
  return labels;
}

async function changeTheme(page: IJupyterLabPageFixture, theme: string) {
  await page.evaluate(t => (window as any).jupyterapp.commands.execute('apputils:change-theme', { theme: t }), theme);
  await page.waitForFunction(t => document.body.dataset.jpThemeName === t, theme);
}

test.describe('Forms that guide', () => {
  test.use({ autoGoto: true });

  test('the fine-tune form offers what exists, warns, and refuses a wrong param before sending', async ({
    page,
    baseURL
  }) => {
    await openSidebar(page);
    await submit(page, 'Import Model', { name: BASE, source: 'facebook/opt-125m' }, 'Import');
    await submit(page, 'New Dataset', { name: DATA, urls: `${baseURL}/files/train.jsonl` }, 'Create');
    await expect(row(page, 'Model', BASE)).toHaveAttribute('data-phase', 'ready', { timeout: 90000 });
    await expect(row(page, 'Dataset', DATA)).toHaveAttribute('data-phase', 'ready', { timeout: 90000 });

    // A fine-tune of a base model to come: warned at once, sent anyway, and it waits.
    await page.locator(`#${SIDEBAR_ID} button[aria-label="Fine-tune Model"]`).click();
    let dialog = page.locator('.jp-Dialog');
    await dialog.locator('[data-field="name"] input').fill(WAITING);
    await chooseName(dialog, 'baseModel', `later-${RUN}`);
    await expect(dialog.locator('[data-field="baseModel"] .jp-substratus-FieldWarning')).toHaveText(
      `no Model named later-${RUN} yet; the fine-tune will wait for it`
    );
    await chooseName(dialog, 'dataset', DATA);
    await expect(dialog.locator('[data-field="dataset"] .jp-substratus-FieldWarning')).toHaveCount(0);
    await dialog.getByRole('button', { name: 'Fine-tune' }).click();
    await expect(dialog).toHaveCount(0);
    await expect(row(page, 'Model', WAITING)).toBeVisible();
    await expect(row(page, 'Model', WAITING)).not.toHaveAttribute('data-phase', 'ready');

    // The next form lists both, the ready one first, each with its state.
    await page.locator(`#${SIDEBAR_ID} button[aria-label="Fine-tune Model"]`).click();
    dialog = page.locator('.jp-Dialog');
    const models = await choiceLabels(dialog, 'baseModel');
    expect(models).toContain(`${BASE} (ready)`);
    const waiting = models.findIndex(l => l.startsWith(`${WAITING} (`));
    expect(waiting).toBeGreaterThan(models.indexOf(`${BASE} (ready)`));
    expect(models.slice(models.findIndex(l => !l.endsWith('(ready)'))).some(l => l.endsWith('(ready)'))).toBe(false);
    expect(await choiceLabels(dialog, 'dataset')).toContain(`${DATA} (ready)`);

    // Nothing sent while the form finds something wrong: required fields, a GPU type with no
    // GPUs, a trainer param out of its range.
    await dialog.getByRole('button', { name: 'Fine-tune' }).click();
    await expect(dialog.locator('[data-field="name"] .jp-substratus-FieldError')).toHaveText('required');
    await expect(dialog.locator('[data-field="baseModel"] .jp-substratus-FieldError')).toHaveText('required');
    const tuned = `ftuned-${RUN}`;
    await dialog.locator('[data-field="name"] input').fill(tuned);
    await chooseName(dialog, 'baseModel', BASE);
    await chooseName(dialog, 'dataset', DATA);
    await dialog.locator('[data-field="gpuType"] select').selectOption('nvidia-l4');
    await dialog.locator('[data-field="gpuCount"] input').fill('0');
    await expect(dialog.locator('[data-field="gpuCount"] .jp-substratus-FieldError')).toContainText(
      'GPU count of 1 or more'
    );
    await dialog.locator('[data-field="gpuCount"] input').fill('1');
    await dialog.locator('.jp-substratus-FieldGroup > summary').click();
    const learningRate = dialog.locator('[data-field="param:learning_rate"]');
    await expect(learningRate.locator('input')).toHaveAttribute('type', 'number');
    await expect(learningRate.locator('input')).toHaveAttribute('min', '0');
    await learningRate.locator('input').fill('-1');
    await expect(learningRate.locator('.jp-substratus-FieldError')).toHaveText('must be at least 0, not -1');
    // Out of the input's range: the dialog's button waits for a right value.
    await expect(dialog.getByRole('button', { name: 'Fine-tune' })).toBeDisabled();

    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    const content = page.locator('.jp-Dialog-content');
    await changeTheme(page, 'JupyterLab Light');
    await content.screenshot({ path: path.join(SCREENSHOTS, 'fine-tune-dialog-light.png') });
    await changeTheme(page, 'JupyterLab Dark');
    await content.screenshot({ path: path.join(SCREENSHOTS, 'fine-tune-dialog-dark.png') });
    await changeTheme(page, 'JupyterLab Light');

    // A right value goes; the Model has it, typed.
    await learningRate.locator('input').fill('0.0002');
    await dialog.getByRole('button', { name: 'Fine-tune' }).click();
    await expect(dialog).toHaveCount(0);
    await expect(row(page, 'Model', tuned)).toBeVisible();
    const spec = await page.evaluate(
      async name => (await fetch(`/substratus/api/v1/models/${name}`).then(r => r.json())).spec,
      tuned
    );
    expect(spec.params).toEqual({ learning_rate: 0.0002 });
    expect(spec.resources.gpu).toEqual({ type: 'nvidia-l4', count: 1 });
  });

  test("Export to Model offers what exists and shows the server's 400 message", async ({ page, tmpPath }) => {
    await openSidebar(page);
    const notebook = `${tmpPath}/finetune.ipynb`;
    await page.contents.uploadFile(EXAMPLE_NOTEBOOK, notebook);
    await page.evaluate(async p => {
      await (window as any).jupyterapp.commands.execute('docmanager:open', { path: p });
    }, notebook);
    await expect(page.locator('.jp-NotebookPanel').first()).toBeVisible();
    await page.locator('.jp-NotebookPanel-toolbar .jp-substratus-ExportButton').first().click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.getByText('to a Model')).toBeVisible();
    // Whatever exists (the sidebar's rows), by name, with its state.
    for (const [field, kind] of [
      ['baseModel', 'Model'],
      ['dataset', 'Dataset']
    ]) {
      const names = await page
        .locator(`#${SIDEBAR_ID} .jp-substratus-Row[data-kind="${kind}"]`)
        .evaluateAll(rows => rows.map(r => r.getAttribute('data-name')));
      const labels = await choiceLabels(dialog, field);
      expect(labels.map(l => l.replace(/ \(.*\)$/, '')).sort()).toEqual(names.sort());
    }
    await chooseName(dialog, 'dataset', `nodata-${RUN}`);
    await expect(dialog.locator('[data-field="dataset"] .jp-substratus-FieldWarning')).toHaveText(
      `no Dataset named nodata-${RUN} yet; the fine-tune will wait for it`
    );
    // A name the API refuses: its message beside the field, the dialog still open.
    await dialog.locator('[data-field="name"] input').fill('Not_A_Name');
    await chooseName(dialog, 'baseModel', `base-${RUN}`);
    await dialog.getByRole('button', { name: 'Export' }).click();
    const error = dialog.locator('[data-field="name"] .jp-substratus-FieldError');
    await expect(error).toContainText('lowercase letters');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(dialog).toHaveCount(0);
  });
});
