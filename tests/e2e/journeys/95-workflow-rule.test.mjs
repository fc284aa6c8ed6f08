// Journey 9.5: an administrator builds a workflow rule in the form (rows of conditions and
// actions, no JSON), creates a case that meets it, and sees the rule's effect on the case
// page; the rule's page lists the run and its test box says what it would do.
// `guanxi demo` serves with the rules follower and the job runner, so the rule really fires.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, loginFor, newPage, shot, url } from '../lib.mjs';
import { formErrors, navigation, pathOf, signInPatiently, stamp } from './support.mjs';

test('an administrator builds a rule in the form and sees it fire on a new case', async (t) => {
  const browser = await launch();
  t.after(() => browser.close());
  const page = await newPage(browser, { locale: 'zh-CN' });
  await signInPatiently(page, loginFor('admin').email);
  const mark = stamp();
  const category = `规则加急-${mark}`;

  // From the settings page to a new rule.
  await page.goto(url('/admin'));
  await navigation(page, () => page.locator('a[href="/admin/rules"]').click());
  await navigation(page, () => page.getByRole('link', { name: /新建规则|New rule/ }).click());
  assert.equal(pathOf(page), '/admin/rules/new');
  const form = page.locator('form.rule-form');
  assert.equal(await form.locator('textarea').count(), 1, 'only the description is free text');

  await form.locator('#r-name').fill(`紧急工单加急 ${mark}`);
  await form.locator('#r-entity').selectOption('case');
  await form.locator('#r-on').selectOption('created');
  // The trigger's field only matters for updates: hidden for "created".
  assert.equal(await form.locator('#r-on-field').isVisible(), false);

  // Two conditions: urgent, and this journey's mark in the subject (so only its case fires).
  const row = (list, i) => form.locator(`#${list} [data-row]`).nth(i);
  await row('rule-conditions', 0).locator('[name=c_field]').selectOption('priority');
  await row('rule-conditions', 0).locator('[name=c_op]').selectOption('eq');
  await row('rule-conditions', 0).locator('[name=c_value]').fill('urgent');
  await row('rule-conditions', 1).locator('[name=c_field]').selectOption('subject');
  await row('rule-conditions', 1).locator('[name=c_op]').selectOption('contains');
  await row('rule-conditions', 1).locator('[name=c_value]').fill(mark);

  // An action row shows the inputs its type needs.
  const act = row('rule-actions', 0);
  assert.equal(await act.locator('[name=a_field]').isVisible(), false);
  await act.locator('[name=a_type]').selectOption('update_field');
  assert.ok(await act.locator('[name=a_field]').isVisible());
  assert.equal(await act.locator('[name=a_subject]').isVisible(), false);
  await act.locator('[name=a_field]').selectOption('category');
  await act.locator('[name=a_value]').fill(category);

  // A second action, added with the button: a follow-up task for the case's owner.
  await form.getByRole('button', { name: /添加动作|Add action/ }).click();
  const act2 = row('rule-actions', 1);
  await act2.locator('[name=a_type]').selectOption('create_task');
  assert.ok(await act2.locator('[name=a_subject]').isVisible());
  assert.equal(await act2.locator('[name=a_team]').isVisible(), false, 'no team for "the owner"');
  await act2.locator('[name=a_subject]').fill(`回访 ${mark}`);
  await act2.locator('[name=a_due]').fill('4');
  await shot(page, 'j95-rule-form');

  let res = await navigation(page, () => form.locator('button[type=submit]').click());
  assert.equal(res.status(), 200, await formErrors(page));
  const rulePath = pathOf(page);
  assert.match(rulePath, /^\/admin\/rules\/[0-9a-f-]{36}$/, await formErrors(page));
  const words = await page.locator('#rule-words').innerText();
  assert.match(words, /记录新建时/);
  assert.match(words, new RegExp(category));

  // A case that meets the rule, created through the form.
  await page.goto(url('/cases/new'));
  const caseForm = page.locator('form.record-form');
  await caseForm.locator('[name=number]').fill(`E2E-${mark}`);
  await caseForm.locator('[name=subject]').fill(`产线停机 ${mark}`);
  await caseForm.locator('[name=kind]').selectOption('repair');
  await caseForm.locator('[name=priority]').selectOption('urgent');
  res = await navigation(page, () => caseForm.locator('button[type=submit]').click());
  const casePath = pathOf(page);
  assert.match(casePath, /^\/cases\/[0-9a-f-]{36}$/, await formErrors(page));

  // The rule runs in the background: reload until its change shows.
  let facts = '';
  for (let i = 0; i < 60 && !facts.includes(category); i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 500));
    await page.goto(url(casePath));
    facts = await page.locator('dl.facts').first().innerText();
  }
  assert.ok(facts.includes(category), `the case page shows: ${facts}`);
  assert.ok(await page.locator(`#rule-runs-here a[href="${rulePath}"]`).isVisible(), 'the case page names the rule');
  await shot(page, 'j95-case-after-rule');

  // The rule's page lists the run on this case; the test box says the case meets it.
  await page.goto(url(rulePath));
  const runs = page.locator('#rule-runs');
  assert.ok(await runs.locator(`a[href="${casePath}"]`).isVisible(), await runs.innerText());
  assert.match(await runs.innerText(), /已完成|Done/);
  await page.locator('#test-record').fill(casePath.split('/').pop());
  res = await navigation(page, () => page.getByRole('button', { name: /^(测试|Test)$/ }).click());
  assert.equal(res.status(), 200);
  assert.match(await page.locator('.test-report').innerText(), /满足全部条件|meets every condition/);
  await shot(page, 'j95-rule-page');
});
