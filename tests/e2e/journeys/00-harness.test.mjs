// The harness itself: the browser reaches the demo server, screenshots land in the
// artifacts, and the runner handed over the demo logins.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { artifactsDir, baseUrl, launch, loginFor, logins, newPage, shot, url } from '../lib.mjs';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

test('the browser reaches /healthz and its screenshot lands in the artifacts', async (t) => {
  const browser = await launch();
  t.after(() => browser.close());
  const page = await newPage(browser);

  const response = await page.goto(url('/healthz'));
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-type'], /^application\/json/);
  // Chromium shows a JSON response as text in a <pre> (plus, in some versions, a
  // pretty-print toggle outside it).
  const text = await page.locator('pre').first().innerText();
  assert.deepEqual(JSON.parse(text), { status: 'ok', database: 'sqlite' });

  const file = await shot(page, 'healthz');
  assert.equal(file, `${artifactsDir()}/healthz.png`);
  const bytes = readFileSync(file);
  assert.ok(bytes.length > PNG_SIGNATURE.length, `${file} is empty`);
  assert.deepEqual([...bytes.subarray(0, 8)], PNG_SIGNATURE, `${file} is not a PNG`);
});

test('the runner passes the demo logins of every role', () => {
  assert.match(baseUrl(), /^http:\/\/127\.0\.0\.1:\d+$/);
  const all = logins();
  for (const login of all) {
    assert.match(login.email, /^[^@\s]+@guanxi\.demo$/);
    assert.ok(login.name, `${login.email} has no name`);
  }
  const roles = new Set(all.map((l) => l.role));
  for (const role of ['admin', 'manager', 'sales', 'marketing', 'service', 'analyst', 'readonly', 'partner']) {
    assert.ok(roles.has(role), `no demo login has the role ${role}`);
  }
  assert.equal(loginFor('admin').email, 'admin@guanxi.demo');
  assert.equal(loginFor('sales').email, 'rep001@guanxi.demo');
});
