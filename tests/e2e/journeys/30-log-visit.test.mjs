// Journey 3: log a visit from an account's 360 page with the composer: pick "visit", type,
// press the button (two clicks and some typing), and it is on the timeline. Empty text is
// refused, with nothing logged.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, loginFor, newPage, shot } from '../lib.mjs';
import { createAccount, navigation, pathOf, signInPatiently, stamp } from './support.mjs';

test('log a visit from the 360 page in two clicks', async (t) => {
  const browser = await launch();
  t.after(() => browser.close());
  const page = await newPage(browser, { locale: 'zh-CN' });
  await signInPatiently(page, loginFor('sales').email);
  const suffix = stamp();
  const account = await createAccount(page, { name: `拜访测试机械有限公司${suffix}`, city: '苏州市' });
  assert.equal(pathOf(page), account.href);

  const composer = page.locator('form#composer');
  const visitPill = composer.locator('label.pill', { hasText: /拜访|Visit/ });
  const visitRadio = composer.locator('input[name=kind][value=visit]');
  const body = composer.locator('textarea#composer-body');
  const send = composer.locator('button[type=submit]');
  const interactions = page.locator('ol.timeline li.tl-interaction');
  assert.equal(await interactions.count(), 0, 'a new account has nothing logged');

  // Empty text: refused on the same page (the account's), with an alert, nothing logged.
  await visitPill.click();
  assert.ok(await visitRadio.isChecked(), 'clicking the pill chooses visit');
  let res = await navigation(page, () => send.click());
  assert.equal(res.status(), 422);
  assert.equal((await page.locator('main h1').innerText()).trim(), account.name);
  const alert = composer.locator('[role=alert]');
  assert.match(await alert.innerText(), /\S/);
  assert.equal(await interactions.count(), 0, 'nothing was logged');
  assert.equal(await page.locator('div.notice').count(), 0);
  await shot(page, 'j3-composer-empty');

  // Straight on from there, log the visit: choose it, type two lines, press the button.
  const first = `拜访王总，讨论二期扩产 ${suffix}`;
  const second = '对方希望下周收到报价单，预算约 50 万。';
  await visitPill.click(); // click 1
  await body.fill(`${first}\n${second}`);
  res = await navigation(page, () => send.click()); // click 2
  assert.equal(res.status(), 200);
  assert.equal(pathOf(page), account.href);
  assert.match(await page.locator('div.notice').innerText(), /已记录|Logged/);

  // The timeline's newest entry is the visit: titled by the first line, badged 拜访/Visit.
  assert.equal(await interactions.count(), 1);
  const entry = interactions.first();
  assert.equal((await entry.locator('.tl-title').innerText()).trim(), first);
  assert.match((await entry.locator('.badge').innerText()).trim(), /^(拜访|Visit)$/);
  assert.match(await entry.locator('.tl-text').innerText(), new RegExp(second.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  assert.equal(await page.locator('ol.timeline li').first().getAttribute('class'), 'tl-interaction',
    'the visit is the newest entry');
  await shot(page, 'j3-visit-logged');
});
