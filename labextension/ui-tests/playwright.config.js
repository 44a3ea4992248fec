/**
 * Galata's Playwright configuration, in Debian's chromium (no downloaded browser), against
 * the jupyter lab that run.sh starts (TARGET_URL).
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

module.exports = {
  ...baseConfig,
  webServer: undefined,
  // Playwright empties its output folder at each run: keep it apart from test-results/screenshots,
  // which run.sh's parts fill one after the other.
  outputDir: 'test-results/playwright',
  workers: 1,
  retries: 0,
  timeout: 180000,
  expect: { timeout: 20000 },
  reporter: [['list']],
  use: {
    ...baseConfig.use,
    video: 'off',
    trace: 'off',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage']
    }
  }
};
