// Journey 2: a sales rep creates a customer with a Chinese name, gets the form back with
// everything typed kept when the name is missing, then adds a contact from the 360 page.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, loginFor, newPage, shot, url } from '../lib.mjs';
import { formErrors, navigation, pathOf, signInPatiently, stamp } from './support.mjs';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

test('create an account with a Chinese name, then a contact on it', async (t) => {
  const browser = await launch();
  t.after(() => browser.close());
  const page = await newPage(browser, { locale: 'zh-CN' });
  await signInPatiently(page, loginFor('sales').email);

  const suffix = stamp();
  const name = `上海测试贸易有限公司${suffix}`;
  let res = await page.goto(url('/accounts/new'));
  assert.equal(res.status(), 200);
  const form = page.locator('form.record-form');
  await form.locator('select[name=kind]').selectOption('organisation');
  await form.locator('select[name=relationship]').selectOption('customer');
  await form.locator('input[name=province]').fill('上海市');
  await form.locator('input[name=city]').fill('上海市');
  await form.locator('input[name=industry]').fill('贸易');

  // Without a name: the form comes back (422) with what was typed and the error at the name.
  res = await navigation(page, () => form.locator('button[type=submit]').click());
  assert.equal(res.status(), 422);
  assert.equal(pathOf(page), '/accounts/new');
  assert.equal(await form.locator('input[name=city]').inputValue(), '上海市');
  assert.equal(await form.locator('input[name=province]').inputValue(), '上海市');
  assert.equal(await form.locator('input[name=industry]').inputValue(), '贸易');
  assert.equal(await form.locator('select[name=kind]').inputValue(), 'organisation');
  assert.equal(await form.locator('select[name=relationship]').inputValue(), 'customer');
  const nameField = form.locator('.field', { has: page.locator('input[name=name]') });
  await assert.doesNotReject(nameField.locator('.field-error').waitFor({ state: 'visible', timeout: 2_000 }),
    'an error next to the name');
  assert.match(await nameField.locator('.field-error').innerText(), /\S/);
  assert.equal(await form.locator('input[name=name]').getAttribute('aria-invalid'), 'true');
  assert.equal(await form.locator('.field-error').count(), 1, 'only the name is wrong');
  await shot(page, 'j2-account-form-name-missing');

  // With the name: saved, and the browser is on the new account's 360 page.
  await form.locator('input[name=name]').fill(name);
  res = await navigation(page, () => form.locator('button[type=submit]').click());
  assert.equal(res.status(), 200, await formErrors(page));
  const m = pathOf(page).match(new RegExp(`^/accounts/(${UUID})$`));
  assert.ok(m, `on the 360 page, not ${page.url()}`);
  const accountId = m[1];
  assert.equal((await page.locator('main h1').innerText()).trim(), name);
  assert.match(await page.locator('div.notice').innerText(), /已创建|Created/);
  const profile = await page.locator('dl.facts').last().innerText();
  assert.match(profile, /上海市/);
  assert.match(profile, /贸易/);

  // The 360 page links to a new contact for this account.
  const newContact = page.locator(`a[href="/contacts/new?account_id=${accountId}"]`);
  assert.match(await newContact.innerText(), /新建联系人|New Contact/i);
  await navigation(page, () => newContact.click());
  assert.equal(pathOf(page), '/contacts/new');
  const cform = page.locator('form.record-form');
  assert.equal(await cform.locator('input[name=account_id]').inputValue(), accountId, 'the account is filled in');

  const person = `张伟${suffix}`;
  const email = `zhang.wei.${suffix}@example.com`;
  await cform.locator('input[name=name]').fill(person);
  await cform.locator('input[name=title]').fill('采购经理');
  await cform.locator('input[name=email]').fill(email);
  res = await navigation(page, () => cform.locator('button[type=submit]').click());
  assert.equal(res.status(), 200, await formErrors(page));
  const c = pathOf(page).match(new RegExp(`^/contacts/(${UUID})$`));
  assert.ok(c, `on the contact's page, not ${page.url()}`);
  const contactId = c[1];
  assert.equal((await page.locator('main h1').innerText()).trim(), person);
  assert.match(await page.locator('div.notice').innerText(), /已创建|Created/);
  assert.match(await page.locator('main').innerText(), new RegExp(email.replace(/\./g, '\\.')));
  await shot(page, 'j2-contact');

  // The contact's page links back to the account, and the account lists the person.
  const back = page.locator(`.page-head a[href="/accounts/${accountId}"]`);
  assert.equal((await back.innerText()).trim(), name);
  await navigation(page, () => back.click());
  assert.equal(pathOf(page), `/accounts/${accountId}`);
  const people = page.locator('ul.people');
  const entry = people.locator('li', { has: page.locator(`a[href="/contacts/${contactId}"]`) });
  assert.equal(await entry.count(), 1);
  assert.equal((await entry.locator(`a[href="/contacts/${contactId}"]`).innerText()).trim(), person);
  assert.match(await entry.innerText(), /采购经理/);
  assert.match(await entry.innerText(), new RegExp(email.replace(/\./g, '\\.')));
  await shot(page, 'j2-account360-with-contact');
});
