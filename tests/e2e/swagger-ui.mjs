// A person's path through Swagger UI, in a real browser: authorize with the OAuth2 password flow,
// then "Try it out" on POST /api/v1/posts and see the 201, all under the Content-Security-Policy
// /docs/ is served with: any violation of it fails the test.
//
//   node swagger-ui.mjs [path/to/blog-api]      (default ../../target/release/blog-api)
//
// Starts the binary on a free loopback port with a fresh data directory, stops it at the end,
// and saves a screenshot to target/e2e/swagger-ui.png (relative to the repository).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const binary = process.argv[2] ?? path.join(process.env.CARGO_TARGET_DIR ?? path.join(repo, 'target'), 'release', 'blog-api');
const artifacts = path.join(repo, 'target', 'e2e');
const password = 'correct horse battery staple';
const title = `Posted from Swagger UI ${Date.now()}`;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForHealth(base, server) {
  for (let i = 0; i < 100; i++) {
    if (server.exitCode !== null) throw new Error(`blog-api exited with ${server.exitCode}`);
    try {
      if ((await fetch(`${base}/health`)).ok) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('blog-api did not become healthy in 10 s');
}

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'blog-api-e2e-'));
const server = spawn(binary, [], {
  env: { ...process.env, BLOG_LISTEN: `127.0.0.1:${port}`, BLOG_DATA_DIR: dataDir, BLOG_LOG: 'warn' },
  stdio: ['ignore', 'inherit', 'inherit'],
});
let browser;
let failed = false;
try {
  await waitForHealth(base, server);
  const signup = await fetch(`${base}/api/v1/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'swagger', email: 'swagger@example.com', password }),
  });
  if (signup.status !== 201) throw new Error(`signup answered ${signup.status}: ${await signup.text()}`);

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
  page.setDefaultTimeout(15_000);
  // Chromium reports a blocked script, style, image or fetch both as a console message
  // ("Refused to ...") and as a securitypolicyviolation event; either fails the test.
  const violations = [];
  page.on('console', (message) => {
    if (/Refused to|Content Security Policy|CSP violation/i.test(message.text())) violations.push(message.text());
  });
  page.on('pageerror', (error) => violations.push(`page error: ${error.message}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || 'inline'}`);
    });
  });
  const docs = await page.goto(`${base}/docs/`);
  const policy = docs.headers()['content-security-policy'] ?? '';
  if (!policy.includes("frame-ancestors 'none'")) throw new Error(`/docs/ has no frame-ancestors 'none': "${policy}"`);
  if (docs.headers()['x-content-type-options'] !== 'nosniff') throw new Error('/docs/ lacks X-Content-Type-Options: nosniff');

  // Authorize with the password flow.
  await page.locator('.scheme-container button.authorize').click();
  const oauth = page.locator('.modal-ux .auth-container').filter({ hasText: 'oauth2_password' });
  await oauth.locator('#oauth_username').fill('swagger');
  await oauth.locator('#oauth_password').fill(password);
  await oauth.locator('button.authorize').click();
  // "Logout" replaces "Authorize" once the token was obtained from /api/v1/auth/login.
  await page.locator('.modal-ux button:has-text("Logout")').waitFor();
  await page.locator('.modal-ux button.close-modal').click();

  // Try it out: POST /api/v1/posts.
  const operation = page.locator('#operations-posts-create');
  await operation.locator('.opblock-summary').click();
  await operation.locator('button.try-out__btn').click();
  await operation.locator('textarea.body-param__text').fill(
    JSON.stringify({ title, content: 'Written in Swagger UI.', tags: ['e2e'] }, null, 2));
  await operation.locator('button.execute').click();
  const response = operation.locator('.live-responses-table .response').first();
  await response.locator('.response-col_status').filter({ hasText: '201' }).waitFor();
  await response.locator('.response-col_description').getByText(title).first().waitFor();

  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, 'swagger-ui.png'), fullPage: true });
  if (violations.length > 0) throw new Error(`the page broke its Content-Security-Policy:\n${violations.join('\n')}`);

  // And the post really is in the store.
  const list = await (await fetch(`${base}/api/v1/posts?author=swagger`)).json();
  if (list.data[0]?.title !== title) throw new Error(`post not listed: ${JSON.stringify(list)}`);
  console.log(`e2e: authorized in Swagger UI, POST /api/v1/posts answered 201 with "${title}", no CSP violation`);
} catch (error) {
  failed = true;
  console.error('e2e failed:', error);
  if (browser) {
    mkdirSync(artifacts, { recursive: true });
    const pages = browser.contexts().flatMap((c) => c.pages());
    if (pages[0]) await pages[0].screenshot({ path: path.join(artifacts, 'swagger-ui-failure.png'), fullPage: true });
  }
} finally {
  if (browser) await browser.close();
  server.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
