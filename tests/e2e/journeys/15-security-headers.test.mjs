// Journey 15: every response carries the security headers, pages work under the CSP, and
// the CSP watch that every journey runs under (lib.mjs launch) really sees violations.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cspViolations, launch, loginFor, newPage, shot, url } from '../lib.mjs';
import { navigation, pathOf, signInPatiently } from './support.mjs';

function assertSecurityHeaders(res, what) {
  const h = res.headers();
  const csp = h['content-security-policy'] ?? '';
  assert.match(csp, /(^|;)\s*frame-ancestors 'none'/, `${what}: CSP ${csp}`);
  assert.match(csp, /(^|;)\s*script-src 'self'(;|$)/, `${what}: CSP ${csp}`);
  assert.match(csp, /(^|;)\s*style-src 'self'(;|$)/, `${what}: CSP ${csp}`);
  assert.doesNotMatch(csp, /unsafe/, `${what}: CSP ${csp}`);
  assert.equal(h['x-content-type-options'], 'nosniff', what);
  assert.equal(h['x-frame-options'], 'DENY', what);
  assert.equal(h['referrer-policy'], 'same-origin', what);
}

/** Wait until the violations seen include one whose text matches each pattern. */
async function waitForViolations(page, patterns, timeout = 5_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const seen = cspViolations(page);
    const missing = patterns.filter(([via, re]) => !seen.some((v) => v.via === via && re.test(v.text)));
    if (!missing.length) return seen;
    if (Date.now() > deadline) {
      assert.fail(`no ${missing.map(([via, re]) => `${via} ${re}`).join(', ')} among ${JSON.stringify(seen, null, 1)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('pages, assets and errors carry the security headers and work under the CSP', async (t) => {
  const browser = await launch();
  t.after(() => browser.close());
  const page = await newPage(browser);

  assertSecurityHeaders(await page.goto(url('/login')), '/login');
  await signInPatiently(page, loginFor('sales').email);
  const res = await page.goto(url('/accounts'));
  assert.equal(res.status(), 200);
  assertSecurityHeaders(res, '/accounts');
  for (const path of ['/assets/app.css', '/assets/app.js', '/api/v1/accounts?limit=1', '/no/such/page']) {
    assertSecurityHeaders(await page.request.get(url(path)), path);
  }

  // The stylesheet applied (the dark header), and the script's typeahead may fetch from us.
  assert.equal(await page.locator('header.top').evaluate((e) => getComputedStyle(e).backgroundColor), 'rgb(29, 36, 51)');
  const name = (await page.locator('table.list tbody tr td a').first().innerText()).trim();
  await page.locator('#global-q').pressSequentially(name.slice(0, 4));
  await page.getByRole('option').first().waitFor({ state: 'visible', timeout: 10_000 });
  await shot(page, 'j15-accounts-under-csp');

  // An error page's "back" is a script now (no javascript: link): it goes back.
  const missing = await page.goto(url('/accounts/00000000-0000-0000-0000-000000000000'));
  assert.equal(missing.status(), 404);
  assertSecurityHeaders(missing, 'an error page');
  const back = page.locator('[data-back] a');
  await back.waitFor({ state: 'visible', timeout: 5_000 });
  await shot(page, 'j15-error-page');
  await navigation(page, () => back.click());
  assert.equal(pathOf(page), '/accounts');
  assert.deepEqual(cspViolations(page), [], 'no violations on the way');
});

test('the CSP watch sees inline style, inline script and framing, and fails the journey', async (t) => {
  const browser = await launch();
  t.after(() => browser.close());
  const page = await newPage(browser);
  await page.goto(url('/login'));
  assert.deepEqual(cspViolations(page), []);

  // An inline style attribute and an inline script are refused, and both the browser's
  // console report and the securitypolicyviolation event are seen.
  await page.evaluate(() => document.body.setAttribute('style', 'background: rgb(255, 0, 0)'));
  await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.pwned = true';
    document.body.append(s);
  });
  assert.notEqual(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(255, 0, 0)');
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  await waitForViolations(page, [
    ['console', /inline style.*style-src/i],
    ['console', /inline script.*script-src/i],
    ['event', /style-src-attr blocked inline/],
    ['event', /script-src-elem blocked inline/],
  ]);

  // Framed by another page (here about:blank), the sign-in page refuses to show.
  const framer = await page.context().newPage();
  await framer.setContent(`<iframe src="${url('/login')}"></iframe>`);
  await waitForViolations(framer, [['console', /frame-ancestors 'none'/]]);
  const frame = framer.frames().find((f) => f !== framer.mainFrame());
  assert.ok(frame, 'the iframe is there');
  assert.equal(await frame.locator('form').count(), 0, 'the framed sign-in form shows');
  cspViolations(page, { forget: true });

  // A violation left unforgotten fails the journey when its context closes.
  const other = await newPage(browser);
  await other.goto(url('/login'));
  await other.evaluate(() => document.body.setAttribute('style', 'color: red'));
  await waitForViolations(other, [['event', /style-src-attr/]]);
  await assert.rejects(other.context().close(), /Content Security Policy violations:[\s\S]*\/login/);
  assert.deepEqual(cspViolations(browser), [], 'reported once');
});
