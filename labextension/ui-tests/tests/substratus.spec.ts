/**
 * The sidebar, the Dataset dialog, API validation errors beside the field, Export to Model,
 * and screenshots in both themes, against a real jupyter lab with the server extension.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as path from 'path';

import { chooseName } from './choose';
import { openSidebar, row, SCREENSHOTS, SIDEBAR_ID } from './helpers';

const EXAMPLE_NOTEBOOK = path.resolve(
  __dirname,
  '../../../examples/notebook-from-directory/finetune.ipynb'
);

// Every test sees the same server state; names are unique per run.
const RUN = Date.now().toString(36).slice(-5);

async function createDataset(page: IJupyterLabPageFixture, name: string, urls: string) {
  await page.locator(`#${SIDEBAR_ID} button[aria-label="New Dataset"]`).click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog.getByText('Create a Dataset')).toBeVisible();
  await dialog.locator('[data-field="name"] input').fill(name);
  await dialog.locator('[data-field="urls"] textarea').fill(urls);
  await dialog.getByRole('button', { name: 'Create' }).click();
  return dialog;
}

test.describe('Substratus sidebar', () => {
  test.use({ autoGoto: true });

  test('shows a section per kind', async ({ page }) => {
    const sidebar = await openSidebar(page);
    for (const kind of ['Dataset', 'Model', 'Server', 'Notebook']) {
      await expect(sidebar.locator(`.jp-substratus-Section[data-kind="${kind}"]`)).toBeVisible();
    }
    await expect(sidebar.locator('.jp-substratus-Error')).toHaveCount(0);
  });

  test('creates a Dataset through its dialog; it appears and changes state', async ({ page, baseURL }) => {
    await openSidebar(page);
    const name = `squad-${RUN}`;
    const dialog = await createDataset(page, name, `${baseURL}/files/train.jsonl`);
    await expect(dialog).toHaveCount(0);
    const item = row(page, 'Dataset', name);
    await expect(item).toBeVisible();
    const first = await item.getAttribute('data-phase');
    // The push channel (or the poll) moves it on: loading, then ready.
    await expect(item).not.toHaveAttribute('data-phase', first ?? 'pending', { timeout: 90000 });
    await expect(item).toHaveAttribute('data-phase', 'ready', { timeout: 120000 });
  });

  test('shows the API validation error beside the field', async ({ page }) => {
    await openSidebar(page);
    const dialog = await createDataset(page, 'Not_A_Valid_Name!', 'https://example.com/x.jsonl');
    // The dialog stays open and the name field carries the API's message.
    const error = dialog.locator('[data-field="name"] .jp-substratus-FieldError');
    await expect(error).toBeVisible();
    await expect(error).not.toBeEmpty();
    await expect(dialog.locator('[data-field="name"] input')).toHaveAttribute('aria-invalid', 'true');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(row(page, 'Dataset', 'Not_A_Valid_Name!')).toHaveCount(0);
  });

  test('exports a notebook with the toolbar button; the Model appears', async ({ page, tmpPath }) => {
    await openSidebar(page);
    const notebook = `${tmpPath}/finetune.ipynb`;
    await page.contents.uploadFile(EXAMPLE_NOTEBOOK, notebook);
    await page.evaluate(
      async p => void (await (window as any).jupyterapp.commands.execute('docmanager:open', { path: p })),
      notebook
    );
    await expect(page.locator('.jp-NotebookPanel').first()).toBeVisible();
    const name = `finetune-${RUN}`;
    await page.locator('.jp-NotebookPanel-toolbar .jp-substratus-ExportButton').first().click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.getByText('to a Model')).toBeVisible();
    await dialog.locator('[data-field="name"] input').fill(name);
    await chooseName(dialog, 'baseModel', 'opt-125m');
    await chooseName(dialog, 'dataset', `squad-${RUN}`);
    await dialog.locator('[data-field="params"] textarea').fill('epochs=1');
    await dialog.getByRole('button', { name: 'Export' }).click();
    await expect(dialog).toHaveCount(0, { timeout: 60000 });
    await expect(row(page, 'Model', name)).toBeVisible();
    // The progress notification names the Model and links to it.
    await expect(page.locator('.Toastify__toast').filter({ hasText: `Model ${name}` })).toBeVisible();
  });

  test('fine-tunes an imported Model; the details show conditions, logs and the loss curve', async ({
    page,
    baseURL
  }) => {
    await openSidebar(page);
    const base = `base-${RUN}`;
    const data = `data-${RUN}`;
    const tuned = `tuned-${RUN}`;
    // Import the base model and load a dataset through their dialogs.
    await page.locator(`#${SIDEBAR_ID} button[aria-label="Import Model"]`).click();
    let dialog = page.locator('.jp-Dialog');
    await dialog.locator('[data-field="name"] input').fill(base);
    await dialog.locator('[data-field="source"] input').fill('facebook/opt-125m');
    await dialog.getByRole('button', { name: 'Import' }).click();
    await expect(dialog).toHaveCount(0);
    await createDataset(page, data, `${baseURL}/files/train.jsonl`);
    await expect(row(page, 'Model', base)).toHaveAttribute('data-phase', 'ready', { timeout: 60000 });
    await expect(row(page, 'Dataset', data)).toHaveAttribute('data-phase', 'ready', { timeout: 60000 });

    // Fine-tune from the Model's row; a bad GPU count comes back beside its field.
    await row(page, 'Model', base).locator('button[data-action="finetune"]').click();
    dialog = page.locator('.jp-Dialog');
    await expect(dialog.locator('[data-field="baseModel"] select')).toHaveValue(base);
    await dialog.locator('[data-field="name"] input').fill(tuned);
    await chooseName(dialog, 'dataset', data);
    await dialog.locator('[data-field="params"] textarea').fill('epochs=1\nlearning_rate=0.0002');
    await dialog.locator('[data-field="gpuType"] select').selectOption('nvidia-l4');
    await dialog.locator('[data-field="gpuCount"] input').fill('-1');
    await dialog.getByRole('button', { name: 'Fine-tune' }).click();
    await expect(dialog.locator('[data-field="gpuCount"] .jp-substratus-FieldError')).toBeVisible();
    await dialog.locator('[data-field="gpuCount"] input').fill('1');
    await dialog.getByRole('button', { name: 'Fine-tune' }).click();
    await expect(dialog).toHaveCount(0);

    await expect(row(page, 'Model', tuned)).toBeVisible();
    await row(page, 'Model', tuned).locator('button[data-action="details"]').click();
    const details = page.locator(`#substratus-details-Model-${tuned}`);
    await expect(details).toBeVisible();
    await expect(details.locator('.jp-substratus-Conditions')).toContainText('Complete');
    await expect(details.locator('.jp-substratus-Facts')).toContainText('nvidia-l4');
    // The trainer's progress lines: the logs stream in and the loss curve is drawn.
    await expect(details.locator('.jp-substratus-Logs')).toContainText('"loss"', { timeout: 60000 });
    await expect(details.locator('.jp-substratus-LossChart polyline')).toHaveAttribute('points', /,/);
    await expect(details.locator('.jp-substratus-Legend')).toContainText(tuned);
    await expect(row(page, 'Model', tuned)).toHaveAttribute('data-phase', 'ready', { timeout: 60000 });
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await details.screenshot({ path: path.join(SCREENSHOTS, 'details-fine-tune.png') });
  });

  test('deploys a Server from a ready Model; starts, suspends and resumes a Notebook', async ({ page }) => {
    await openSidebar(page);
    const model = `serve-${RUN}`;
    await page.locator(`#${SIDEBAR_ID} button[aria-label="Import Model"]`).click();
    let dialog = page.locator('.jp-Dialog');
    await dialog.locator('[data-field="name"] input').fill(model);
    await dialog.locator('[data-field="source"] input').fill('facebook/opt-125m');
    await dialog.getByRole('button', { name: 'Import' }).click();
    await expect(row(page, 'Model', model)).toHaveAttribute('data-phase', 'ready', { timeout: 60000 });

    await row(page, 'Model', model).locator('button[data-action="deploy"]').click();
    dialog = page.locator('.jp-Dialog');
    await expect(dialog.locator('[data-field="name"] input')).toHaveValue(`${model}-server`);
    // No image unless one is typed: the server picks it (vLLM with a GPU on a cluster).
    await expect(dialog.locator('[data-field="image"] input')).toHaveValue('');
    await expect(dialog.locator('[data-field="image"] .jp-substratus-FieldHelp')).toContainText('vLLM');
    const sent = page.waitForRequest(r => /\/substratus\/api\/v1\/servers(\?|$)/.test(r.url()) && r.method() === 'POST');
    await dialog.getByRole('button', { name: 'Deploy' }).click();
    expect((await sent).postDataJSON().spec).not.toHaveProperty('image');
    await expect(dialog).toHaveCount(0);
    const server = row(page, 'Server', `${model}-server`);
    await expect(server).toHaveAttribute('data-phase', 'ready', { timeout: 60000 });
    await server.locator('button[data-action="details"]').click();
    const details = page.locator(`#substratus-details-Server-${model}-server`);
    await expect(details.locator('.jp-substratus-Facts')).toContainText('svc.cluster.local:8080');
    // The prompt goes through Jupyter's proxy route and the API server's service proxy to the
    // model server behind the Server's Service, and the completion streams back.
    await details.locator('.jp-substratus-Prompt textarea').fill('Q: color of sky?\nA:');
    await details.locator('.jp-substratus-Prompt').getByRole('button', { name: 'Send' }).click();
    await expect(details.locator('.jp-substratus-Answer')).not.toBeEmpty({ timeout: 60000 });
    await expect(details.locator('.jp-substratus-Prompt .jp-substratus-Error')).toHaveCount(0);

    const nb = `nb-${RUN}`;
    await page.locator(`#${SIDEBAR_ID} button[aria-label="New Notebook"]`).click();
    dialog = page.locator('.jp-Dialog');
    await dialog.locator('[data-field="name"] input').fill(nb);
    await chooseName(dialog, 'model', model);
    await dialog.getByRole('button', { name: 'Start' }).click();
    await expect(dialog).toHaveCount(0);
    const notebook = row(page, 'Notebook', nb);
    await expect(notebook).toHaveAttribute('data-phase', 'ready', { timeout: 60000 });
    await expect(notebook.locator('button[data-action="open"]')).toBeVisible();
    await notebook.locator('button[data-action="suspend"]').click();
    await expect(notebook).toHaveAttribute('data-phase', 'suspended');
    await expect(notebook.locator('button[data-action="resume"]')).toBeVisible();
    await notebook.locator('button[data-action="resume"]').click();
    await expect(notebook).toHaveAttribute('data-phase', 'ready', { timeout: 60000 });
  });

  test('is reachable from the keyboard and the command palette', async ({ page }) => {
    await openSidebar(page);
    // A sidebar button takes focus and Enter opens its dialog; Escape closes it.
    await page.locator(`#${SIDEBAR_ID} button[aria-label="New Dataset"]`).focus();
    await page.keyboard.press('Enter');
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.getByText('Create a Dataset')).toBeVisible();
    await expect(dialog.locator('[data-field="name"] input')).toBeFocused();
    await page.keyboard.press('Escape');
    await expect(dialog).toHaveCount(0);
    // The commands are in the palette under their labels.
    await page.keyboard.press('Control+Shift+C');
    const palette = page.locator('#command-palette');
    await expect(palette).toBeVisible();
    await page.keyboard.type('Import Model');
    await expect(palette.locator('.lm-CommandPalette-item').filter({ hasText: 'Import Model…' })).toBeVisible();
    await page.keyboard.press('Enter');
    await expect(dialog.getByText('Import a Model')).toBeVisible();
    await page.keyboard.press('Escape');
    await expect(dialog).toHaveCount(0);
  });

  test('sidebar screenshots in the light and the dark theme', async ({ page }) => {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    const sidebar = await openSidebar(page);
    await page.theme.setLightTheme();
    await expect(sidebar).toBeVisible();
    await sidebar.screenshot({ path: path.join(SCREENSHOTS, 'sidebar-light.png') });
    await page.theme.setDarkTheme();
    await expect(sidebar).toBeVisible();
    await sidebar.screenshot({ path: path.join(SCREENSHOTS, 'sidebar-dark.png') });
    await page.theme.setLightTheme();
  });
});


