// Journey 7: a sales rep cannot open another team's customer. The demo seeds its reps round
// robin over the regions' teams (crates/cli/src/seed/org.rs), so rep001 (华东1组) and rep002
// (华北1组) are in different teams; sales reps see their own customers only.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newPage, shot, url } from '../lib.mjs';
import { navigation, nthLogin, pathOf, signInPatiently } from './support.mjs';

test("a sales rep gets 'not found' for another team's account", async (t) => {
  const browser = await launch();
  t.after(() => browser.close());
  const x = nthLogin('sales', 0);
  const y = nthLogin('sales', 1);

  // Rep X: the first account of their list, which names X as its owner.
  const px = await newPage(browser, { locale: 'zh-CN' });
  await signInPatiently(px, x.email);
  await px.goto(url('/accounts'));
  const first = px.locator('table.list tbody tr').first().locator('td a').first();
  const href = await first.getAttribute('href');
  assert.match(href, /^\/accounts\/[0-9a-f-]{36}$/);
  const name = (await first.innerText()).trim();
  assert.ok(name.length > 1);
  await navigation(px, () => first.click());
  assert.equal(pathOf(px), href);
  assert.equal((await px.locator('main h1').innerText()).trim(), name);
  assert.match(await px.locator('dl.facts').last().innerText(), new RegExp(x.name), 'X owns it');

  // Rep Y, in another browser: the same address is "not found", and says nothing of it.
  const py = await newPage(browser, { locale: 'zh-CN' });
  await signInPatiently(py, y.email);
  let res = await py.goto(url(href));
  assert.equal(res.status(), 404);
  const text = await py.locator('body').innerText();
  assert.match(text, /页面不存在，或您无权查看。|This page does not exist, or it is not yours to see\./);
  assert.ok(!text.includes(name), `the 404 page names the account: ${text}`);
  assert.ok(!(await py.content()).includes(name), 'nor does its HTML');
  assert.ok(!(await py.title()).includes(name));
  await shot(py, 'j7-other-team-404');

  // Nor can Y reach it by its edit page, or log against it.
  res = await py.goto(url(`${href}/edit`));
  assert.equal(res.status(), 404);
  assert.ok(!(await py.content()).includes(name));
  await py.goto(url('/'));
  const subject = `越权记录 ${Date.now()}`;
  const posted = await py.evaluate(async ({ href, subject }) => {
    const csrf = document.querySelector('meta[name=csrf-token]').content;
    const body = new URLSearchParams({ _csrf: csrf, kind: 'note', body: subject });
    const r = await fetch(`${href}/log`, { method: 'POST', body, redirect: 'manual' });
    return r.status;
  }, { href, subject });
  assert.equal(posted, 404, 'logging against it is refused as not found');
  await px.goto(url(href));
  assert.ok(!(await px.locator('ol.timeline').innerText()).includes(subject), 'nothing was logged');

  // Y's list does not have it: filtered by its name, nothing matches.
  res = await py.goto(url(`/accounts?filter=${encodeURIComponent(`name:contains:${name}`)}`));
  assert.equal(res.status(), 200);
  assert.equal(await py.locator(`table.list a[href="${href}"]`).count(), 0);
  assert.match(await py.locator('table.list tbody').innerText(), /没有符合条件的记录。|Nothing matches\./);
  assert.equal(await py.locator('table.list tbody tr').count(), 1, 'only the "nothing matches" row');
  await shot(py, 'j7-other-team-list');

  // The same filter in X's list finds it (the filter itself works).
  await px.goto(url(`/accounts?filter=${encodeURIComponent(`name:contains:${name}`)}`));
  assert.equal(await px.locator(`table.list tbody a[href="${href}"]`).count(), 1);
});
