/**
 * What the specs share: the sidebar, its rows, where screenshots go.
 */
import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import * as path from 'path';

export const SIDEBAR_ID = 'jupyter-substratus-sidebar';
export const SCREENSHOTS = path.join(__dirname, '..', 'test-results', 'screenshots');

export async function openSidebar(page: IJupyterLabPageFixture) {
  await page.sidebar.openTab(SIDEBAR_ID);
  const sidebar = page.locator(`#${SIDEBAR_ID}`);
  await expect(sidebar).toBeVisible();
  return sidebar;
}

export function row(page: IJupyterLabPageFixture, kind: string, name: string) {
  return page.locator(`#${SIDEBAR_ID} .jp-substratus-Row[data-kind="${kind}"][data-name="${name}"]`);
}
