/**
 * The README quickstart through the sidebar, on the local backend from a fresh state directory
 * (run.sh starts jupyter lab with --SubstratusExtension.backend=local): a Dataset from a JSONL
 * file, a tiny model and SmolLM2 imported by path, a fine-tune by exporting the example
 * notebook with the toolbar button, a Server of the result, and a completion through the
 * Jupyter server's proxy route from the Server's prompt box. The loaders, the trainer and the
 * model server really run, as processes of this machine.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as path from 'path';

import { chooseName } from './choose';

const SIDEBAR_ID = 'jupyter-substratus-sidebar';
const SCREENSHOTS = path.join(__dirname, '..', 'test-results', 'screenshots');
// Written by local_quickstart_files.py: {tinyModel, smollm2, data, notebook}.
const FILES = JSON.parse(process.env.SUBSTRATUS_QUICKSTART ?? '{}');
const MINUTE = 60000;

function row(page: IJupyterLabPageFixture, kind: string, name: string) {
  return page.locator(`#${SIDEBAR_ID} .jp-substratus-Row[data-kind="${kind}"][data-name="${name}"]`);
}

async function fill(page: IJupyterLabPageFixture, opener: string, values: Record<string, string>, accept: string) {
  await page.locator(`#${SIDEBAR_ID} button[aria-label="${opener}"]`).click();
  await submit(page, values, accept);
}

async function submit(page: IJupyterLabPageFixture, values: Record<string, string>, accept: string) {
  const dialog = page.locator('.jp-Dialog');
  for (const [field, value] of Object.entries(values)) {
    if (await dialog.locator(`[data-field="${field}"] .jp-substratus-Choice`).count()) {
      await chooseName(dialog, field, value);
    } else {
      await dialog.locator(`[data-field="${field}"] input, [data-field="${field}"] textarea`).fill(value);
    }
  }
  await dialog.getByRole('button', { name: accept }).click();
  await expect(dialog).toHaveCount(0, { timeout: MINUTE });
}

test.describe('The quickstart on the local backend', () => {
  test.use({ autoGoto: true });

  test('dataset, imports, export to a fine-tune, a Server and a completion', async ({ page }) => {
    test.setTimeout(10 * MINUTE);
    expect(FILES.tinyModel, 'run.sh sets SUBSTRATUS_QUICKSTART').toBeTruthy();
    await page.sidebar.openTab(SIDEBAR_ID);
    await expect(page.locator(`#${SIDEBAR_ID} .jp-substratus-Backend`)).toContainText('local');

    await fill(page, 'New Dataset', { name: 'toy', urls: FILES.data }, 'Create');
    await fill(page, 'Import Model', { name: 'tiny', source: FILES.tinyModel }, 'Import');
    await fill(page, 'Import Model', { name: 'smollm2', source: FILES.smollm2 }, 'Import');

    // Export the example notebook: its directory is the build context, it runs as the training.
    await page.evaluate(
      async p => void (await (window as any).jupyterapp.commands.execute('docmanager:open', { path: p })),
      FILES.notebook
    );
    await expect(page.locator('.jp-NotebookPanel').first()).toBeVisible();
    await page.locator('.jp-NotebookPanel-toolbar .jp-substratus-ExportButton').first().click();
    await submit(page, { name: 'tuned', baseModel: 'tiny', dataset: 'toy', params: 'num_train_epochs=2' }, 'Export');
    await page.sidebar.openTab(SIDEBAR_ID);
    await expect(row(page, 'Dataset', 'toy')).toHaveAttribute('data-phase', 'ready', { timeout: 3 * MINUTE });
    await expect(row(page, 'Model', 'tuned')).toHaveAttribute('data-phase', 'ready', { timeout: 5 * MINUTE });

    await row(page, 'Model', 'tuned').locator('button[data-action="deploy"]').click();
    await submit(page, { name: 'tuned-server' }, 'Deploy');
    const server = row(page, 'Server', 'tuned-server');
    await expect(server).toHaveAttribute('data-phase', 'ready', { timeout: 3 * MINUTE });

    // The prompt box of the Server's details goes through the Jupyter server's proxy route.
    await server.locator('button[data-action="details"]').click();
    const details = page.locator('#substratus-details-Server-tuned-server');
    await expect(details.locator('.jp-substratus-Facts')).toContainText('/substratus/api/v1/servers/tuned-server/proxy/');
    await details.locator('.jp-substratus-Prompt textarea').fill('Q: color of sky?\nA:');
    await details.locator('.jp-substratus-Prompt').getByRole('button', { name: 'Send' }).click();
    await expect(details.locator('.jp-substratus-Answer')).not.toBeEmpty({ timeout: MINUTE });
    await expect(details.locator('.jp-substratus-Prompt .jp-substratus-Error')).toHaveCount(0);

    await expect(row(page, 'Model', 'smollm2')).toHaveAttribute('data-phase', 'ready', { timeout: 5 * MINUTE });
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await page.locator(`#${SIDEBAR_ID}`).screenshot({ path: path.join(SCREENSHOTS, 'sidebar-local-quickstart.png') });
    await details.screenshot({ path: path.join(SCREENSHOTS, 'details-local-server.png') });
  });
});
