// Plays the user in a real browser (system Chromium via playwright-core): opens
// the authorization URL, signs in on oidc-provider's login page, approves the
// consent page, and waits for Switchboard's "Signed in" page on its loopback
// redirect listener.
//
//   node consent.mjs AUTHORIZATION_URL [USER]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [url, user = 'alice'] = process.argv.slice(2);
if (!url) {
  console.error('usage: consent.mjs AUTHORIZATION_URL [USER]');
  process.exit(2);
}
const profile = mkdtempSync(join(tmpdir(), 'switchboard-consent-'));
// A fresh profile, so no earlier session at the authorization server counts.
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
try {
  const page = await browser.newPage();
  await page.goto(url);
  // The development login page: any login and password are accepted.
  await page.fill('input[name="login"]', user);
  await page.fill('input[name="password"]', 'password');
  await page.click('button[type="submit"]');
  // The consent page.
  await page.waitForSelector('button[type="submit"]');
  console.log(`consent page: ${await page.title()}`);
  await page.click('button[type="submit"]');
  await page.waitForSelector('text=Signed in', { timeout: 30000 });
  console.log(`landed: ${await page.title()}`);
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
