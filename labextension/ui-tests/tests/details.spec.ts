/**
 * The sidebar's rows and the details views against jupyter lab on the Kubernetes API emulator
 * with the real operator (lab_on_emulator.py): a running training's progress and ETA, the loss
 * chart with another run of the same base model, a Server's endpoint and prompt controls, Cancel
 * and Run again, and screenshots in the light and dark themes;
 * on the local lab, after the quickstart, the artifacts link into the file browser and the
 * executed notebook and its HTML.
 *
 * The resources are made through the REST API, so that this spec does not depend on the create
 * dialogs. A running training is a fine-tune named held-* (its Job never ends on the emulator,
 * its trainer's log stops at step 3 of 12): the operator reports it Running, with the
 * trainerStatus it reads from that log.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import type { APIRequestContext } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';

import { openSidebar, row, SCREENSHOTS } from './helpers';

const RUN = Date.now().toString(36).slice(-5);
const NAMES = {
  base: `dbase-${RUN}`,
  data: `ddata-${RUN}`,
  tuned: `dtuned-${RUN}`,
  held: `held-${RUN}`,
  cancelled: `held-cancel-${RUN}`,
  server: `dsrv-${RUN}`
};
const API = 'substratus/api/v1';
const THEMES = { light: 'JupyterLab Light', dark: 'JupyterLab Dark' };

/** The emulator's address and token, from the kubeconfig lab_on_emulator.py wrote. */
function emulator(): { server: string; token: string } {
  const text = fs.readFileSync(path.join(process.env.SUBSTRATUS_UI_WORK ?? '', 'kubeconfig'), 'utf8');
  return {
    server: /server:\s*(\S+)/.exec(text)![1],
    token: /token:\s*(\S+)/.exec(text)![1]
  };
}

/** GET from the Kubernetes API (the emulator). */
async function kubeGet(apiPath: string): Promise<any> {
  const { server, token } = emulator();
  const response = await fetch(`${server}${apiPath}`, { headers: { Authorization: `Bearer ${token}` } });
  expect(response.ok).toBe(true);
  return response.json();
}

/** A label selector of the children the operator made for a resource. */
function ownedBy(name: string): string {
  return encodeURIComponent(`substratus.ai/owner-name=${name}`);
}

async function create(request: APIRequestContext, baseURL: string, kind: string, name: string, spec: object) {
  const plural = `${kind.toLowerCase()}s`;
  const response = await request.post(`${baseURL}/${API}/${plural}`, {
    data: { apiVersion: 'substratus.ai/v1', kind, metadata: { name }, spec }
  });
  expect(response.status(), await response.text()).toBeLessThan(300);
}

async function resource(request: APIRequestContext, baseURL: string, plural: string, name: string) {
  const response = await request.get(`${baseURL}/${API}/${plural}/${name}`);
  return response.ok() ? response.json() : undefined;
}

let setup: Promise<void> | undefined;

/**
 * Once per run: a base Model and a Dataset, a fine-tune that completes, one that keeps running
 * (its Job started by the operator) and a Server.
 */
function ensureResources(request: APIRequestContext, baseURL: string): Promise<void> {
  setup ??= (async () => {
    const info = await (await request.get(`${baseURL}/${API}`)).json();
    const images = info.images;
    await create(request, baseURL, 'Model', NAMES.base, {
      image: images.modelLoader,
      params: { name: 'facebook/opt-125m' }
    });
    await create(request, baseURL, 'Dataset', NAMES.data, {
      image: images.datasetLoader,
      params: { urls: `${baseURL}/files/train.jsonl` }
    });
    for (const name of [NAMES.tuned, NAMES.held, NAMES.cancelled]) {
      await create(request, baseURL, 'Model', name, {
        image: images.trainer,
        model: { name: NAMES.base },
        dataset: { name: NAMES.data },
        params: { epochs: 1 }
      });
    }
    await create(request, baseURL, 'Server', NAMES.server, {
      image: images.server,
      model: { name: NAMES.base }
    });
    const ready = async (plural: string, name: string) =>
      (await resource(request, baseURL, plural, name))?.status?.ready === true;
    await expect.poll(() => ready('models', NAMES.tuned), { timeout: 120000 }).toBe(true);
    await expect.poll(() => ready('servers', NAMES.server), { timeout: 120000 }).toBe(true);
    await expect
      .poll(async () => (await kubeGet(`/apis/batch/v1/namespaces/default/jobs?labelSelector=${ownedBy(NAMES.held)}`)).items.length, {
        timeout: 60000
      })
      .toBeGreaterThan(0);
  })();
  return setup;
}

async function setTheme(page: IJupyterLabPageFixture, theme: string) {
  await page.evaluate(t => (window as any).jupyterapp.commands.execute('apputils:change-theme', { theme: t }), theme);
  await expect(page.locator('body')).toHaveAttribute('data-jp-theme-name', theme);
  // The theme change shows the splash screen for a moment.
  await expect(page.locator('#jupyterlab-splash')).toHaveCount(0);
}

/** Screenshots of a part of the page in both themes, as NAME-light.png and NAME-dark.png. */
async function screenshotBothThemes(page: IJupyterLabPageFixture, part: ReturnType<IJupyterLabPageFixture['locator']>, name: string) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  for (const [mode, theme] of Object.entries(THEMES)) {
    await setTheme(page, theme);
    await expect(part).toBeVisible();
    await part.screenshot({ path: path.join(SCREENSHOTS, `${name}-${mode}.png`) });
  }
  await setTheme(page, THEMES.light);
}

async function openDetails(page: IJupyterLabPageFixture, kind: string, name: string) {
  await row(page, kind, name).locator('button[data-action="details"]').click();
  const details = page.locator(`#substratus-details-${kind}-${name}`);
  await expect(details).toBeVisible();
  return details;
}

test.describe('Substratus rows and details', () => {
  test.skip(process.env.SUBSTRATUS_UI_LAB !== 'emulator', 'runs on the emulator lab (run.sh part 1)');
  test.describe.configure({ mode: 'serial' });
  test.use({ autoGoto: true, viewport: { width: 1400, height: 900 } });

  test.beforeEach(async ({ page, baseURL }) => {
    await ensureResources(page.request, baseURL!);
  });

  test('row actions are icon buttons with titles; names carry a tooltip', async ({ page }) => {
    await openSidebar(page);
    const tuned = row(page, 'Model', NAMES.tuned);
    await expect(tuned).toHaveAttribute('data-phase', 'ready', { timeout: 60000 });
    await expect(tuned.locator('.jp-substratus-Name')).toHaveAttribute('title', NAMES.tuned);
    for (const action of ['details', 'logs', 'delete']) {
      const button = tuned.locator(`button[data-action="${action}"]`);
      await expect(button).toHaveAttribute('title', /.+/);
      await expect(button).toHaveAttribute('aria-label', new RegExp(`Model ${NAMES.tuned}$`));
      await expect(button.locator('svg')).toBeVisible();
    }
  });

  test('a running training shows progress with its ETA in the row and the details', async ({ page, baseURL }) => {
    await openSidebar(page);
    const held = row(page, 'Model', NAMES.held);
    // The reconcile flow reads the trainer's progress lines (step 3 of 12 so far) into
    // status.trainerStatus, which the bar shows.
    await expect(held).toHaveAttribute('data-phase', 'running');
    await expect
      .poll(async () => (await resource(page.request, baseURL!, 'models', NAMES.held))?.status?.trainerStatus)
      .toMatchObject({ currentStep: 3, totalSteps: 12, progressPercentage: 25, estimatedRemainingSeconds: 45 });
    const bar = held.locator('.jp-substratus-ProgressBar [role="progressbar"]');
    await expect(bar).toHaveAttribute('aria-valuenow', '25');
    await expect(held.locator('.jp-substratus-ProgressBar')).toContainText(/^25% · step 3\/12 .*ETA 45s/);
    await screenshotBothThemes(page, page.locator('#jupyter-substratus-sidebar'), 'rows-sidebar');
    const details = await openDetails(page, 'Model', NAMES.held);
    await expect(details.locator('.jp-substratus-ProgressBar')).toContainText(/25%.*ETA 45s/);
  });

  test('the loss chart has axes and hover values, and overlays another run of the base model', async ({ page }) => {
    await openSidebar(page);
    const details = await openDetails(page, 'Model', NAMES.held);
    const chart = details.locator('.jp-substratus-LossChart');
    await expect(chart.locator('[data-axis="x"]')).toContainText('step');
    await expect(chart.locator('[data-axis="y"]')).toContainText('loss');
    await expect(chart.locator('polyline')).toHaveCount(1);
    await details.locator(`.jp-substratus-Compare input[data-run="${NAMES.tuned}"]`).check();
    await expect(chart.locator('polyline')).toHaveCount(2);
    await expect(chart.locator(`polyline[data-series="${NAMES.tuned}"]`)).toHaveAttribute('points', /,/);
    await expect(chart.locator('.jp-substratus-Legend li')).toHaveCount(2);
    const box = (await chart.locator('svg').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.5);
    await expect(chart.locator('.jp-substratus-HoverValue').first()).toContainText(/step \d+: loss \d/);
    await expect(chart.locator('.jp-substratus-HoverValue')).toHaveCount(2);
    await screenshotBothThemes(page, details, 'details-training');
  });

  test("a ready Server's details: endpoint with copy, openai snippet, prompt controls", async ({
    page,
    baseURL,
    context
  }) => {
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    await openSidebar(page);
    await expect(row(page, 'Server', NAMES.server)).toHaveAttribute('data-phase', 'ready', { timeout: 60000 });
    const details = await openDetails(page, 'Server', NAMES.server);
    const endpoint = `${baseURL}/${API}/servers/${NAMES.server}/proxy/v1`;
    await expect(details.locator('.jp-substratus-EndpointUrl code')).toHaveText(endpoint);
    await details.locator('.jp-substratus-EndpointUrl button').click();
    await expect(details.locator('.jp-substratus-EndpointUrl button')).toContainText('Copied');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(endpoint);
    const snippet = details.locator('.jp-substratus-Snippet pre');
    await expect(snippet).toContainText(`base_url="${endpoint}"`);
    await expect(snippet).toContainText(`model="${NAMES.base}"`);
    await expect(snippet).toContainText('JUPYTER_TOKEN');
    await details.locator('.jp-substratus-Snippet button').click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toContain('from openai import OpenAI');

    const prompt = details.locator('.jp-substratus-Prompt');
    await prompt.getByLabel('Max tokens').fill('5');
    await prompt.getByLabel('Temperature').fill('0.2');
    await prompt.getByLabel('Stream').uncheck();
    await prompt.locator('textarea').fill('Hello');
    const sent = page.waitForRequest(r => r.url().includes(`/servers/${NAMES.server}/proxy/v1/completions`));
    await prompt.getByRole('button', { name: 'Send' }).click();
    expect((await sent).postDataJSON()).toEqual({ prompt: 'Hello', stream: false, max_tokens: 5, temperature: 0.2 });
    await screenshotBothThemes(page, details, 'details-server');
  });

  test('Cancel asks first, stops the run and keeps the Model; Run again starts it anew', async ({
    page,
    baseURL
  }) => {
    // A fine-tune of its own: the tests above write held's status by hand.
    const name = NAMES.cancelled;
    const jobs = async () => (await kubeGet(`/apis/batch/v1/namespaces/default/jobs?labelSelector=${ownedBy(name)}`)).items;
    await openSidebar(page);
    const cancelled = row(page, 'Model', name);
    await expect(cancelled).toHaveAttribute('data-phase', 'running', { timeout: 60000 });
    await cancelled.locator('button[data-action="cancel"]').click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText(`Cancel Model ${name}?`);
    await dialog.getByRole('button', { name: 'Keep running' }).click();
    await expect(dialog).toHaveCount(0);
    await expect(cancelled).toHaveAttribute('data-phase', 'running');

    await cancelled.locator('button[data-action="cancel"]').click();
    const answered = page.waitForResponse(
      r => r.url().includes(`/${API}/models/${name}/cancel`) && r.request().method() === 'POST'
    );
    await dialog.getByRole('button', { name: 'Cancel run' }).click();
    expect((await answered).ok()).toBe(true);
    // The reconcile flow stops the Job and reports the Model failed, reason Cancelled; it stays.
    await expect(cancelled).toHaveAttribute('data-phase', 'failed', { timeout: 60000 });
    await expect(cancelled.locator('.jp-substratus-Reason')).toContainText(/^Cancelled: cancelled by the user at \d{4}-/);
    await expect.poll(async () => (await jobs()).length, { timeout: 30000 }).toBe(0);
    const model = await resource(page.request, baseURL!, 'models', name);
    expect(model.metadata.annotations?.['substratus.ai/cancel-requested']).toMatch(/^\d{4}-/);
    expect(model.status.phase).toBe('Failed');
    expect(model.status.conditions).toContainEqual(expect.objectContaining({ status: 'False', reason: 'Cancelled' }));
    await expect(cancelled.locator('button[data-action="cancel"]')).toHaveCount(0);
    await screenshotBothThemes(page, cancelled, 'row-cancelled');

    // Run again: the same spec, created anew without the cancel request; a new Job runs it.
    const rerun = page.waitForResponse(
      r => r.url().includes(`/${API}/models/${name}/rerun`) && r.request().method() === 'POST'
    );
    await cancelled.locator('button[data-action="rerun"]').click();
    expect((await rerun).status()).toBe(201);
    await expect(cancelled).toHaveAttribute('data-phase', 'running', { timeout: 60000 });
    await expect(cancelled.locator('.jp-substratus-Reason')).toHaveCount(0);
    await expect(cancelled.locator('button[data-action="cancel"]')).toBeVisible();
    const again = await resource(page.request, baseURL!, 'models', name);
    expect(again.metadata.uid).not.toBe(model.metadata.uid);
    expect(again.metadata.annotations?.['substratus.ai/cancel-requested']).toBeUndefined();
    await expect.poll(async () => (await jobs()).length, { timeout: 30000 }).toBe(1);
  });
});

test.describe('Artifacts on the local backend', () => {
  test.skip(process.env.SUBSTRATUS_UI_LAB !== 'local', 'runs on the local lab after the quickstart (run.sh part 2)');
  test.use({ autoGoto: true });

  test('open in the file browser; the executed notebook and its HTML one click away', async ({ page }) => {
    // The quickstart's fine-tune (an exported notebook): its artifacts are in the lab's root, as
    // run.sh puts the local state directory there.
    await openSidebar(page);
    await expect(row(page, 'Model', 'tuned')).toHaveAttribute('data-phase', 'ready');
    const details = await openDetails(page, 'Model', 'tuned');
    const link = details.locator('.jp-substratus-Artifacts a');
    await expect(link).toHaveAttribute('data-path', /^substratus-state\/.+artifacts/);
    const folder = (await link.getAttribute('data-path'))!;
    await link.click();
    await expect.poll(() => page.filebrowser.getCurrentDirectory()).toBe(folder);
    await expect(page.locator('.jp-DirListing-item[title*="notebook"]').first()).toBeVisible();

    const current = () => page.evaluate(() => (window as any).jupyterapp.shell.currentWidget?.context?.path);
    await details.locator('button[data-open="notebook"]').click();
    await expect.poll(current).toBe(`${folder}/notebook/finetune.ipynb`);
    await page.locator('.lm-TabBar-tab[data-id="substratus-details-Model-tuned"]').click();
    await details.locator('button[data-open="html"]').click();
    await expect.poll(current).toBe(`${folder}/notebook/finetune.html`);
    await expect(page.frameLocator('.jp-HTMLViewer iframe').locator('body')).not.toBeEmpty();
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'details-local-artifacts-html.png') });
  });
});
