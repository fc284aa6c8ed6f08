// Journey 9: one user assigns an account to another, who sees the bell in the header count
// it, opens the notifications page, follows the link to the account and marks it read. The
// notification is sent by the server's change-log subscriber (crates/app/src/notify.rs),
// so the rep's page is reloaded until it shows (it follows within a fraction of a second).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, loginFor, newPage, shot, url } from '../lib.mjs';
import { createAccount, navigation, nthLogin, pathOf, signInPatiently, stamp } from './support.mjs';

/** The bell's count on the page shown: 0 when it shows none. */
async function bellCount(page) {
  const count = page.locator('header a.bell [data-unread]');
  return (await count.count()) ? Number((await count.innerText()).trim()) : 0;
}

/** Reload `path` until the bell shows `n`; throws after `tries` reloads. */
async function bellShows(page, path, n, tries = 60) {
  for (let i = 0; i < tries; i++) {
    await page.goto(url(path));
    if ((await bellCount(page)) === n) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the bell on ${path} shows ${await bellCount(page)}, not ${n}`);
}

test('an account assigned to a rep rings their bell until they read it', async (t) => {
  const browser = await launch();
  t.after(() => browser.close());
  const rep = nthLogin('sales', 3);

  // The rep starts with nothing unread (earlier journeys may have sent them something).
  const mine = await newPage(browser, { locale: 'zh-CN' });
  await signInPatiently(mine, rep.email);
  await mine.goto(url('/notifications'));
  const clear = mine.locator('form[action="/notifications/read-all"] button[type=submit]');
  if (await clear.count()) await navigation(mine, () => clear.click());
  assert.equal(await bellCount(mine), 0);

  // The administrator creates an account and makes the rep its owner.
  const admin = await newPage(browser, { locale: 'zh-CN' });
  await signInPatiently(admin, loginFor('admin').email);
  await admin.goto(url('/accounts/new'));
  const option = admin.locator('form.record-form select[name=owner_id] option', { hasText: rep.name });
  const owner = await option.first().getAttribute('value');
  assert.ok(owner, `the owner list offers ${rep.name}`);
  const name = `通知测试客户${stamp()}`;
  const account = await createAccount(admin, {
    kind: 'organisation', relationship: 'customer', name, owner_id: owner,
  });

  // The rep's bell counts it, on any page.
  await bellShows(mine, '/', 1);
  assert.match(await mine.locator('header a.bell').getAttribute('aria-label'), /1/);
  await shot(mine, 'j9-bell');

  // The notifications page names the account and who assigned it, linked to it.
  await navigation(mine, () => mine.locator('header a.bell').click());
  assert.equal(pathOf(mine), '/notifications');
  const item = mine.locator('ul.notifications li', { hasText: name });
  assert.equal(await item.count(), 1);
  assert.match(await item.innerText(), /分配给了你|assigned you/);
  await shot(mine, 'j9-notifications');
  await navigation(mine, () => item.locator(`a[href="${account.href}"]`).click());
  assert.equal(pathOf(mine), account.href);
  assert.equal((await mine.locator('main h1').innerText()).trim(), name);
  assert.equal(await bellCount(mine), 1, 'opening the record does not mark it read');

  // Marked read from the page: the bell goes quiet.
  await mine.goto(url('/notifications'));
  const unread = mine.locator('ul.notifications li', { hasText: name });
  await navigation(mine, () => unread.locator('form[action$="/read"] button[type=submit]').click());
  assert.equal(pathOf(mine), '/notifications');
  assert.equal(await bellCount(mine), 0);
  assert.equal(await mine.locator('ul.notifications li.unread', { hasText: name }).count(), 0);
});
