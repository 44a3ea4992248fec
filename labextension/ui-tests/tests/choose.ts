/**
 * Filling the forms' "choice" fields: the existing resource when the select lists it, else
 * "other…" and the name typed.
 */
import type { Locator } from '@playwright/test';

export async function chooseName(dialog: Locator, field: string, name: string): Promise<void> {
  const select = dialog.locator(`[data-field="${field}"] select`);
  if (await select.locator(`option[value="${name}"]`).count()) {
    await select.selectOption(name);
    return;
  }
  await select.selectOption({ label: 'other…' });
  await dialog.locator(`[data-field="${field}"] input`).fill(name);
}
