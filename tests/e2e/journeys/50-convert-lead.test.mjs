// Journey 5: convert a new lead into an account, a contact and a deal, and see the result on
// the new account's 360 page. The lead is made here, so the journey needs no seeded lead.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, loginFor, newPage, shot, url } from '../lib.mjs';
import { formErrors, navigation, pathOf, signInPatiently, stamp } from './support.mjs';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

test('convert a new lead into an account with an open deal', async (t) => {
  const browser = await launch();
  t.after(() => browser.close());
  const page = await newPage(browser, { locale: 'zh-CN' });
  await signInPatiently(page, loginFor('sales').email);
  const suffix = stamp();
  const person = `林晓东${suffix}`;
  const company = `杭州转化测试科技有限公司${suffix}`;

  // A new lead of the rep's own.
  await page.goto(url('/leads/new'));
  const form = page.locator('form.record-form');
  await form.locator('input[name=name]').fill(person);
  await form.locator('input[name=company]').fill(company);
  await form.locator('input[name=title]').fill('总经理');
  await form.locator('select[name=source]').selectOption('web');
  await form.locator('select[name=status]').selectOption('new');
  await form.locator('input[name=city]').fill('杭州市');
  // No score: the form takes a lead without one (the entity's default applies).
  let res = await navigation(page, () => form.locator('button[type=submit]').click());
  assert.equal(res.status(), 200, await formErrors(page));
  const m = pathOf(page).match(new RegExp(`^/leads/(${UUID})$`));
  assert.ok(m, `on the lead's page, not ${page.url()}`);
  const leadId = m[1];

  // The list of new leads: every row is new, and this lead is among them.
  res = await page.goto(url('/leads?filter=status:eq:new'));
  assert.equal(res.status(), 200);
  const rows = page.locator('table.list tbody tr');
  assert.ok((await rows.count()) > 0);
  for (const text of await rows.allInnerTexts()) {
    assert.match(text, /新建|New/, `a row that is not new: ${text}`);
  }
  assert.match(await page.locator('ul.chips').innerText(), /新建|New/, 'the filter shows as a chip');
  res = await page.goto(url(`/leads?filter=status:eq:new&filter=${encodeURIComponent(`name:contains:${suffix}`)}`));
  const link = page.locator(`table.list tbody a[href="/leads/${leadId}"]`);
  assert.equal(await link.count(), 1, 'the new lead is in the list of new leads');
  assert.equal((await link.innerText()).trim(), person);

  // Open it and follow Convert.
  await navigation(page, () => link.click());
  assert.equal(pathOf(page), `/leads/${leadId}`);
  const convert = page.locator(`a[href="/leads/${leadId}/convert"]`);
  assert.match((await convert.innerText()).trim(), /^(转化|Convert)$/);
  await navigation(page, () => convert.click());
  assert.equal(pathOf(page), `/leads/${leadId}/convert`);
  assert.match(await page.locator('main').innerText(), new RegExp(company));
  const deal = `${company} 首单`;
  assert.equal(await page.locator('input[name=deal_name]').inputValue(), company, 'the deal is named after the company');
  await page.locator('input[name=deal_name]').fill(deal);
  await page.locator('input[name=amount]').fill('88000');
  await shot(page, 'j5-convert');
  res = await navigation(page, () => page.locator('form.record-form button[type=submit]').click());
  assert.equal(res.status(), 200, await formErrors(page));

  // The new account's 360 page: the company's name, a notice, the deal and the person.
  const a = pathOf(page).match(new RegExp(`^/accounts/(${UUID})$`));
  assert.ok(a, `on the new account's page, not ${page.url()}`);
  const accountId = a[1];
  assert.equal((await page.locator('main h1').innerText()).trim(), company);
  assert.match(await page.locator('div.notice').innerText(), /线索已转化|Lead converted/);
  const deals = page.locator('section.card', { has: page.locator('h2', { hasText: /进行中的商机|商机|Open deals/ }) });
  const dealLine = deals.locator('ul.lines li', { hasText: deal });
  assert.equal(await dealLine.count(), 1, 'the deal is listed among the open deals');
  assert.match(await dealLine.innerText(), /88,000(\.00)?/);
  const dealHref = await dealLine.locator('a').getAttribute('href');
  assert.match(dealHref, new RegExp(`^/opportunities/${UUID}$`));
  assert.match(await page.locator('ul.people').innerText(), new RegExp(person), 'the lead became a contact');
  await shot(page, 'j5-converted-account360');

  // The deal belongs to the account.
  await page.goto(url(dealHref));
  assert.ok(await page.locator(`dl.facts a[href="/accounts/${accountId}"]`).count() > 0);

  // The lead is converted, and offers no Convert any more.
  await page.goto(url(`/leads/${leadId}`));
  const facts = await page.locator('dl.facts').innerText();
  assert.match(facts, /已转化|Converted/);
  assert.equal(await page.locator(`a[href="/leads/${leadId}/convert"]`).count(), 0);
  // Nor is it among the new leads.
  await page.goto(url(`/leads?filter=status:eq:new&filter=${encodeURIComponent(`name:contains:${suffix}`)}`));
  assert.equal(await page.locator(`table.list tbody a[href="/leads/${leadId}"]`).count(), 0);
});
