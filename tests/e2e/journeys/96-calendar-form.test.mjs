// Journey 9.6: an administrator writes a business calendar in its form (rows of working
// periods per weekday, rows of holidays and make-up working days, no JSON): adds a period
// and a day with the rows' buttons (script), ticks Saturday "whole day", adds China's
// official 2026 schedule with its button (the form comes back with everything typed and
// the official days as rows), saves, and sees the calendar by weekday on its page.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, loginFor, newPage, shot, url } from '../lib.mjs';
import { formErrors, navigation, pathOf, signInPatiently, stamp } from './support.mjs';

test('an administrator writes a business calendar in the form', async (t) => {
  const browser = await launch();
  t.after(() => browser.close());
  const page = await newPage(browser, { locale: 'zh-CN' });
  await signInPatiently(page, loginFor('admin').email);
  const name = `夜班日历 ${stamp()}`;

  let res = await page.goto(url('/calendars/new'));
  assert.equal(res.status(), 200);
  const form = page.locator('form.calendar-form');
  assert.equal(await form.locator('textarea').count(), 1, 'only the description is free text');
  assert.equal(await form.locator('#c-time-zone').inputValue(), 'Asia/Shanghai');
  await form.locator('#c-name').fill(name);

  // Wednesday gets an evening period in a row added by the button.
  const wed = form.locator('#cal-day-wed');
  const wedRows = wed.locator('[data-row]');
  const before = await wedRows.count();
  await wed.getByRole('button', { name: /添加时段|Add period/ }).click();
  assert.equal(await wedRows.count(), before + 1, 'the button adds a row');
  const added = wedRows.nth(before);
  assert.equal(await added.locator('[name=wed_start]').inputValue(), '', 'the new row is blank');
  await added.locator('[name=wed_start]').fill('19:00');
  await added.locator('[name=wed_end]').fill('21:00');
  // And a row removed again: the blank one before it.
  await wedRows.nth(before - 1).getByRole('button', { name: /删除|Remove/ }).click();
  assert.equal(await wedRows.count(), before);

  // Saturday the whole day: its periods are hidden.
  const sat = form.locator('#cal-day-sat');
  await sat.locator('[name=sat_whole]').check();
  assert.equal(await sat.locator('[data-periods]').isVisible(), false);

  // A holiday of our own, in a row added by the button.
  const days = form.locator('#cal-days [data-row]');
  const dayCount = await days.count();
  await form.getByRole('button', { name: /添加日期|Add day/ }).click();
  const day = days.nth(dayCount);
  await day.locator('[name=d_date]').fill('2027-01-01');
  await day.locator('[name=d_kind]').selectOption('holiday');
  await day.locator('[name=d_name]').fill('元旦');
  await shot(page, 'j96-calendar-typed');

  // China's official 2026 schedule: the form comes back with its days and what was typed.
  await form.locator('#c-official-year').selectOption('2026');
  res = await navigation(page, () => form.getByRole('button', { name: /添加国家法定节假日安排|official schedule/ }).click());
  assert.equal(res.status(), 200, await formErrors(page));
  assert.match(await page.locator('.notice').innerText(), /2026/);
  assert.equal(await form.locator('#c-name').inputValue(), name);
  assert.ok(await form.locator('[name=sat_whole]').isChecked());
  assert.equal(await form.locator('#cal-wed [name=wed_start][value="19:00"]').count(), 1, 'the added period is kept');
  assert.equal(await form.locator('[name=d_date][value="2027-01-01"]').count(), 1, 'our holiday is kept');
  assert.equal(await form.locator('[name=d_date][value="2026-10-01"]').count(), 1, 'the official days are rows');
  await shot(page, 'j96-calendar-official');

  res = await navigation(page, () => form.locator('button.primary[type=submit]').click());
  assert.equal(res.status(), 200, await formErrors(page));
  assert.match(pathOf(page), /^\/calendars\/[0-9a-f-]{36}$/, await formErrors(page));
  const week = await page.locator('#calendar-week').innerText();
  assert.match(week, /周六\s+全天/);
  assert.match(week, /周三\s+09:00–12:00, 13:00–18:00, 19:00–21:00/);
  assert.match(week, /周日\s+休息/);
  const listed = await page.locator('#calendar-days').innerText();
  assert.match(listed, /2026-10-01\s+节假日\s+国庆节/);
  assert.match(listed, /2026-09-20\s+调休上班\s+国庆节/);
  assert.match(listed, /2027-01-01\s+节假日\s+元旦/);
  await shot(page, 'j96-calendar-page');
});
