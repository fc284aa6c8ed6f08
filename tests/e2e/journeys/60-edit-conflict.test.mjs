// Journey 6: the same person edits one account in two tabs. The second save meets the
// first: the form comes back (409) with everything typed kept and the other version beside
// each field that differs; "use theirs" on one field, keep mine on the other, save again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, loginFor, newPage, shot, url } from '../lib.mjs';
import { createAccount, navigation, pathOf, signInPatiently, stamp } from './support.mjs';

/** The facts on an account's 360 profile card as {label: text}. */
async function profileFacts(page) {
  return page.locator('dl.facts').last().evaluate((dl) => {
    const out = {};
    for (const dt of dl.querySelectorAll('dt')) out[dt.textContent.trim()] = dt.nextElementSibling.textContent.trim();
    return out;
  });
}

test('two tabs edit the same account: resolve the conflict without losing text', async (t) => {
  const browser = await launch();
  t.after(() => browser.close());
  const tabA = await newPage(browser, { locale: 'zh-CN' });
  await signInPatiently(tabA, loginFor('sales').email);
  const account = await createAccount(tabA, {
    name: `冲突测试实业有限公司${stamp()}`,
    industry: '原行业',
    address: '原地址',
    city: '南京市',
  });
  const edit = url(`${account.href}/edit`);

  // The same user, a second tab (same context, same session).
  const tabB = await tabA.context().newPage();
  await tabA.goto(edit);
  await tabB.goto(edit);
  assert.equal(await tabB.locator('#f-industry').inputValue(), '原行业');

  // Tab A saves first.
  await tabA.locator('#f-industry').fill('A-行业');
  await tabA.locator('#f-address').fill('A地址');
  let res = await navigation(tabA, () => tabA.locator('form.record-form button[type=submit]').click());
  assert.equal(res.status(), 200);
  assert.equal(pathOf(tabA), account.href);
  assert.match(await tabA.locator('div.notice').innerText(), /已保存|Saved/);

  // Tab B, still on the old version, changes only the industry and saves.
  await tabB.locator('#f-industry').fill('B-行业');
  res = await navigation(tabB, () => tabB.locator('form.record-form button[type=submit]').click());
  assert.equal(res.status(), 409);
  const conflict = tabB.locator('div#conflict');
  assert.ok(await conflict.isVisible(), 'the conflict is explained');
  assert.equal(await conflict.getAttribute('role'), 'alert');

  // Nothing typed is lost, and their value is beside it.
  const industry = tabB.locator('.field', { has: tabB.locator('#f-industry') });
  assert.equal(await tabB.locator('#f-industry').inputValue(), 'B-行业');
  assert.equal((await industry.locator('.theirs output').innerText()).trim(), 'A-行业');
  const useTheirsIndustry = industry.locator('button[data-use-theirs="f-industry"]');
  assert.match((await useTheirsIndustry.innerText()).trim(), /^(采用对方的|Use theirs)$/);

  // The address B never touched differs from what A saved: B's form still holds the old
  // text, so theirs is offered there too.
  const address = tabB.locator('.field', { has: tabB.locator('#f-address') });
  assert.equal(await tabB.locator('#f-address').inputValue(), '原地址');
  assert.equal((await address.locator('.theirs output').innerText()).trim(), 'A地址');

  // Fields both versions agree on offer nothing.
  const name = tabB.locator('.field', { has: tabB.locator('#f-name') });
  assert.equal(await name.locator('.theirs').count(), 0);
  assert.equal(await tabB.locator('#f-name').inputValue(), account.name);
  // The tag (e2e) is the same in both versions: B's tag input should still hold it and
  // offer nothing. Checked at the end, after the main path.
  const tagsShown = await tabB.locator('#f-tags').inputValue();
  const differing = await tabB.locator('.theirs').evaluateAll((ds) =>
    ds.map((d) => `${d.dataset.for}=${d.querySelector('output').textContent}`));
  assert.ok(differing.includes('f-industry=A-行业') && differing.includes('f-address=A地址'), differing.join(', '));
  await shot(tabB, 'j6-conflict');

  // Take theirs for the address, keep mine for the industry, save.
  await address.locator('button[data-use-theirs="f-address"]').click();
  assert.equal(await tabB.locator('#f-address').inputValue(), 'A地址');
  assert.equal(await tabB.locator('#f-industry').inputValue(), 'B-行业');
  res = await navigation(tabB, () => tabB.locator('form.record-form button[type=submit]').click());
  assert.equal(res.status(), 200);
  assert.equal(pathOf(tabB), account.href);
  assert.match(await tabB.locator('div.notice').innerText(), /已保存|Saved/);

  // The record has B's industry and A's address.
  const facts = await profileFacts(tabB);
  assert.equal(facts['行业'] ?? facts.Industry, 'B-行业', JSON.stringify(facts));
  assert.equal(facts['详细地址'] ?? facts.Address, 'A地址', JSON.stringify(facts));
  await shot(tabB, 'j6-resolved');

  // And tab A, reloaded, sees the same.
  await tabA.goto(edit);
  assert.equal(await tabA.locator('#f-industry').inputValue(), 'B-行业');
  assert.equal(await tabA.locator('#f-address').inputValue(), 'A地址');

  // Nothing else was lost: the tag neither tab changed was kept in B's form, offered no
  // "theirs", and is still on the record.
  assert.equal(tagsShown, 'e2e', "the conflict form emptied the tag input B sent");
  assert.deepEqual(differing, ['f-industry=A-行业', 'f-address=A地址'], 'only industry and address differ');
  assert.equal(facts['标签'] ?? facts.Tags, 'e2e', `the tag nobody changed is gone: ${JSON.stringify(facts)}`);
});
