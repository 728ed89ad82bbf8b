// The console in a real browser (Debian's chromium, driven by playwright-core) against a
// real `skein dev`, as a person would use it. Run by cli/tests/console.rs, which starts
// the server, seeds a dead letter, and passes:
//   SKEIN_URL, SKEIN_SIGN_IN_URL (a one-time link), SKEIN_TOKEN (an admin's, for setup the
//   console does not do), SKEIN_NODE_TOOLS, SKEIN_EXAMPLES, SKEIN_SCREENSHOTS, CHROMIUM.
// Prints one line per check and the measured numbers; exits non-zero on the first failure.

import { createRequire } from 'node:module';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env('SKEIN_URL');
const adminToken = env('SKEIN_TOKEN');
const examples = env('SKEIN_EXAMPLES');
const shots = env('SKEIN_SCREENSHOTS');
mkdirSync(shots, { recursive: true });
const require = createRequire(join(resolve(env('SKEIN_NODE_TOOLS')), 'node_modules', 'noop.js'));
const { chromium } = require('playwright-core');
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const TIMEOUT = 15000;

async function api(method, path, body, type = 'application/json') {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': type, accept: 'application/json' },
    body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
const consoleErrors = [];
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const page = await context.newPage();
page.setDefaultTimeout(TIMEOUT);
page.on('console', (message) => {
  if (message.type() === 'error') consoleErrors.push(message.text());
});
page.on('pageerror', (error) => consoleErrors.push(String(error)));

const accessibility = [];
async function checkPage(name) {
  // Evaluated over the DevTools protocol: the page's own policy forbids inline scripts.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const report = await axe.run(document, { resultTypes: ['violations'] });
    return report.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length,
      targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const serious = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  accessibility.push({ page: name, serious: serious.length, minor: result.length - serious.length });
  assert.deepEqual(serious, [], `${name}: serious or critical accessibility violations`);
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  console.log(`ok  ${name}: no serious or critical axe violations (${result.length - serious.length} minor); screenshot ${name}.png`);
}

const badge = (status) => page.locator(`h1 .badge.st-${status}`);

try {
  // Sign in with the link `skein dev` prints: the code is used once and leaves the address.
  await page.goto(env('SKEIN_SIGN_IN_URL'));
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  assert.equal(new URL(page.url()).hash, '#/', 'the one-time code is dropped from the address');
  await checkPage('overview');

  // Register the research report from the Workflows page, as a file's text.
  await page.getByRole('link', { name: 'Workflows', exact: true }).click();
  await page.getByText('Register a workflow').click();
  await page.locator('#workflow-text').fill(readFileSync(join(examples, 'research-report.yaml'), 'utf8'));
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByRole('heading', { name: 'research-report', exact: true }).waitFor();
  await page.locator('svg.dag [data-step="review"]').waitFor();
  await checkPage('workflow');

  // Start a run from the form generated from its input_schema.
  const input = JSON.parse(readFileSync(join(examples, 'research-input.json'), 'utf8'));
  await page.getByLabel('topic').fill(input.topic);
  await page.getByLabel('sources').fill(JSON.stringify(input.sources));
  await page.getByRole('button', { name: /^Run v/ }).click();
  await page.waitForURL(/#\/runs\/run_/);
  const runId = decodeURIComponent(new URL(page.url()).hash.split('/').pop());

  // Watch it reach the approval live, approve from the step drawer, see it succeed.
  await page.locator('svg.dag [data-step="review"].st-awaiting_approval').waitFor();
  console.log(`ok  the run page showed ${runId} reach its approval live`);
  await page.locator('svg.dag [data-step="review"]').click();
  await checkPage('run-awaiting-approval');
  await page.locator('.drawer').getByLabel('Comment (optional)').fill('numbers checked');
  await page.locator('.drawer').getByRole('button', { name: 'Approve' }).click();
  await badge('succeeded').waitFor();
  await page.getByRole('heading', { name: 'Run output' }).waitFor();
  const output = await page.locator('pre[aria-label="Run output"]').textContent();
  assert.match(output, /tidal energy/, 'the output is shown');
  console.log('ok  approved from the browser; the run succeeded and its output is shown');
  await checkPage('run-succeeded');

  // A run whose step fails: its error is in the step drawer.
  await api('POST', '/v1/workflows', [
    'name: fragile', 'description: A step that always fails.', 'steps:',
    '  - id: prepare', '    builtin: echo',
    '  - id: explode', '    builtin: transform', '    with:', '      program: \'error("the sensor feed is empty")\'',
    '    input: "{{ steps.prepare.output }}"',
  ].join('\n'), 'application/yaml');
  const failing = await api('POST', '/v1/workflows/fragile/runs', { input: { reading: 1 } });
  await page.goto(`${base}/#/runs/${failing.id}`);
  await badge('failed').waitFor();
  await page.locator('svg.dag [data-step="explode"]').focus();
  await page.keyboard.press('Enter');
  await page.locator('.drawer .error').first().waitFor();
  assert.match(await page.locator('.drawer').textContent(), /the sensor feed is empty/);
  console.log('ok  a failed step\'s error opens in the drawer (chosen with the keyboard)');
  await checkPage('run-failed');

  // Cancel a run from its page while it waits for its approval.
  const doomed = await api('POST', '/v1/workflows/research-report/runs', { input });
  page.once('dialog', (dialog) => dialog.accept());
  await page.goto(`${base}/#/runs/${doomed.id}`);
  await page.locator('svg.dag [data-step="review"].st-awaiting_approval').waitFor();
  await page.getByRole('button', { name: 'Cancel run' }).click();
  await badge('cancelled').waitFor();
  console.log('ok  a run waiting for its approval was cancelled from its page');

  // A map step's progress, and a sub-workflow's run one click away.
  await api('POST', '/v1/workflows', readFileSync(join(examples, 'fanout.yaml'), 'utf8'), 'application/yaml');
  const fanout = await api('POST', '/v1/workflows/review-scoring/runs', {
    input: JSON.parse(readFileSync(join(examples, 'fanout-input.json'), 'utf8')),
  });
  await page.goto(`${base}/#/runs/${fanout.id}`);
  await page.locator('h1 .badge:not(.st-running)').waitFor();
  await page.locator('svg.dag [data-step="score"]').click();
  await page.locator('.drawer progress').waitFor();
  assert.match(await page.locator('.drawer .progress-block label').textContent(), /Items: \d+ succeeded, \d+ failed of \d+/);
  await checkPage('run-map');
  await api('POST', '/v1/workflows', 'name: greet\nsteps:\n  - id: hello\n    builtin: echo\n', 'application/yaml');
  await api('POST', '/v1/workflows', [
    'name: outer', 'steps:',
    '  - { id: inner, type: workflow, workflow: { name: greet }, input: "{{ input }}" }',
  ].join('\n'), 'application/yaml');
  const outer = await api('POST', '/v1/workflows/outer/runs', { input: { who: 'world' } });
  await page.goto(`${base}/#/runs/${outer.id}`);
  await badge('succeeded').waitFor();
  await page.locator('svg.dag [data-step="inner"]').click();
  await page.locator('.drawer').getByRole('link', { name: /^run_/ }).click();
  await page.getByRole('link', { name: `inner of ${outer.id}` }).waitFor();
  console.log('ok  a map step shows its progress; a sub-workflow step links to its run, and back');

  // Runs list, filtered.
  await page.goto(`${base}/#/runs?status=failed`);
  await page.getByRole('link', { name: failing.id }).waitFor();
  assert.equal(await page.getByRole('link', { name: runId }).count(), 0, 'the filter hides succeeded runs');
  await checkPage('runs');

  // Agents: the list, one agent's page, pause and resume.
  await api('POST', '/v1/agents', { name: 'scout', capabilities: ['search', 'summarize'], tags: ['team-research'] });
  await page.getByRole('link', { name: 'Agents', exact: true }).click();
  await page.getByRole('heading', { name: 'Agents' }).waitFor();
  await checkPage('agents');
  await page.getByRole('link', { name: 'scout' }).click();
  await page.getByRole('button', { name: 'Pause' }).click();
  await badge('paused').waitFor();
  await checkPage('agent');
  await page.getByRole('button', { name: 'Resume' }).click();
  await badge('active').waitFor();
  console.log('ok  an agent was paused and resumed from its page');

  // Approvals inbox: empty now.
  await page.getByRole('link', { name: 'Approvals', exact: true }).click();
  await page.getByText('Nothing is waiting for a decision.').waitFor();
  await checkPage('approvals');

  // Redrive the dead letter the harness seeded.
  await page.getByRole('link', { name: 'Dead letters', exact: true }).click();
  const redrive = page.getByRole('button', { name: /^Redrive / }).first();
  await redrive.waitFor();
  await checkPage('dead-letters');
  await redrive.click();
  await page.getByText(/was sent again/).waitFor();
  console.log('ok  a dead letter was redriven from the browser');

  // The API reference, with the signed-in token.
  await page.getByRole('link', { name: 'API', exact: true }).click();
  await page.locator('rapi-doc').waitFor();
  await page.waitForFunction(() => {
    const doc = document.querySelector('rapi-doc');
    return doc && doc.shadowRoot && doc.shadowRoot.textContent.includes('Skein API');
  });
  await checkPage('api-reference');

  // A 200-step run: how long its page takes to draw (fetches included).
  const steps = ['name: wide-200', 'steps:'];
  for (let i = 0; i < 200; i += 1) {
    steps.push(`  - id: s${i}`, '    builtin: echo');
    if (i >= 10) steps.push(`    depends_on: [s${i - 10}]`);
  }
  await api('POST', '/v1/workflows', steps.join('\n'), 'application/yaml');
  const wide = await api('POST', '/v1/workflows/wide-200/runs', { input: { n: 1 } });
  for (let waited = 0; ; waited += 100) {
    const run = await api('GET', `/v1/runs/${wide.id}`);
    if (run.status !== 'running') break;
    assert.ok(waited < 60000, 'the 200-step run did not finish');
    await new Promise((r) => setTimeout(r, 100));
  }
  const timings = [];
  for (let i = 0; i < 5; i += 1) {
    await page.goto(`${base}/#/`);
    await page.getByRole('heading', { name: 'Overview' }).waitFor().catch(() => {});
    // The shell stamps main with how long the page took, from navigation to laid out.
    await page.evaluate((id) => {
      delete document.querySelector('main').dataset.renderedMs;
      location.hash = `#/runs/${id}`;
    }, wide.id);
    await page.locator('main[data-rendered-ms] svg.dag').waitFor();
    timings.push(Number(await page.locator('main').getAttribute('data-rendered-ms')));
  }
  assert.equal(await page.locator('svg.dag .node').count(), 200);
  timings.sort((a, b) => a - b);
  console.log(`measured  the 200-step run page rendered in ${timings[2]} ms (median of 5; ${timings.join(', ')} ms)`);
  await page.screenshot({ path: join(shots, 'run-200-steps.png') });

  // Phone width: the run page still reads, nothing overflows the viewport sideways.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const small = await phone.newPage();
  small.on('pageerror', (error) => consoleErrors.push(String(error)));
  // A fresh context has no token: sign in with client credentials this time.
  await small.goto(base);
  const credentials = JSON.parse(process.env.SKEIN_ADMIN_CREDENTIALS);
  await small.getByLabel('Client id').fill(credentials.client_id);
  await small.getByLabel('Client secret').fill(credentials.client_secret);
  await small.getByRole('button', { name: 'Sign in' }).click();
  await small.getByRole('heading', { name: 'Overview' }).waitFor();
  await small.goto(`${base}/#/runs/${runId}`);
  await small.locator('h1 .badge.st-succeeded').waitFor();
  // Against the phone's width, not innerWidth: a mobile browser widens its layout
  // viewport to fit a page that overflows.
  const overflow = await small.evaluate(() => document.documentElement.scrollWidth - 390);
  assert.ok(overflow <= 1, `the run page is ${overflow}px wider than a phone`);
  await small.screenshot({ path: join(shots, 'run-phone.png'), fullPage: true });
  console.log('ok  signed in with client credentials at phone width; the run page fits');
  await phone.close();

  // The weight of the page: every script and style sheet it can load, gzipped.
  const assets = join(dirname(fileURLToPath(import.meta.url)), '..', 'assets');
  const sizes = { console: 0, viewer: 0 };
  for (const entry of readdirSync(assets, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !/\.(js|css)$/.test(entry.name)) continue;
    const path = join(entry.parentPath, entry.name);
    const gzipped = gzipSync(readFileSync(path), { level: 9 }).length;
    sizes[path.includes('/vendor/') ? 'viewer' : 'console'] += gzipped;
  }
  const kib = (bytes) => (bytes / 1024).toFixed(1);
  console.log(`measured  JS + CSS gzipped: ${kib(sizes.console + sizes.viewer)} KiB (console ${kib(sizes.console)} KiB, API viewer ${kib(sizes.viewer)} KiB, loaded on the API page only)`);
  assert.ok(sizes.console + sizes.viewer <= 300 * 1024, 'JS + CSS stay within 300 KB gzipped');

  assert.deepEqual(consoleErrors, [], 'no errors in the browser console');
  console.log('ok  no browser console errors');
  console.log(`accessibility ${JSON.stringify(accessibility)}`);
} catch (error) {
  await page.screenshot({ path: join(shots, 'failure.png'), fullPage: true }).catch(() => {});
  console.error(`FAILED: ${error.stack || error}`);
  if (consoleErrors.length) console.error(`browser console errors: ${consoleErrors.join('\n')}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
