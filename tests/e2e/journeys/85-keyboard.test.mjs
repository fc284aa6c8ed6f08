// Journey 8b: the sign-in page by keyboard alone. Tab goes e-mail, password, the button (in
// that order), each showing a visible focus outline, and Enter signs in.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoPassword, launch, loginFor, newPage, shot, url } from '../lib.mjs';
import { navigation, pathOf } from './support.mjs';

/** What has the focus: its id or name, and its computed outline. */
function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    const css = getComputedStyle(el);
    return {
      tag: el.tagName.toLowerCase(),
      id: el.id || el.getAttribute('name') || el.getAttribute('type') || el.textContent.trim(),
      outlineStyle: css.outlineStyle,
      outlineWidth: parseFloat(css.outlineWidth),
      focusVisible: el.matches(':focus-visible'),
    };
  });
}

for (const locale of ['zh-CN', 'en-US']) {
  test(`sign in by keyboard alone (${locale}), with a visible focus`, async (t) => {
    const browser = await launch();
    t.after(() => browser.close());
    const page = await newPage(browser, { locale });
    await page.goto(url('/login'));

    // The e-mail field has the focus from the start (autofocus). Start from the heading
    // above the form instead (a click there moves where Tab starts from), as someone
    // arriving by Tab would.
    assert.equal((await focused(page)).id, 'email', 'the e-mail field is focused on arrival');
    await page.locator('main h1').click();
    assert.equal((await focused(page)).tag, 'body');

    const order = [];
    for (const expected of ['email', 'password', 'submit']) {
      await page.keyboard.press('Tab');
      const f = await focused(page);
      order.push(f.id);
      assert.equal(f.id, expected, `Tab order so far: ${order.join(' → ')}`);
      assert.ok(f.focusVisible, `${f.id} matches :focus-visible`);
      assert.notEqual(f.outlineStyle, 'none', `${f.id} shows no focus outline`);
      assert.ok(f.outlineWidth >= 1, `${f.id}'s focus outline is ${f.outlineWidth}px wide`);
      if (expected === 'password') await shot(page, `keyboard-login-focus-${locale}`);
    }

    // Then the language links, also outlined.
    await page.keyboard.press('Tab');
    const link = await focused(page);
    assert.equal(link.tag, 'a');
    assert.notEqual(link.outlineStyle, 'none');

    // Type and press Enter: signed in.
    const rep = loginFor('sales');
    await page.locator('#email').focus();
    await page.keyboard.type(rep.email);
    await page.keyboard.press('Tab');
    await page.keyboard.type(demoPassword());
    const res = await navigation(page, () => page.keyboard.press('Enter'));
    assert.equal(res.status(), 200);
    assert.equal(pathOf(page), '/');
    assert.match(await page.locator('main h1').innerText(), new RegExp(rep.name));

    // On a signed-in page the first Tab reaches the skip link, which is then visible.
    await page.goto(url('/'));
    await page.keyboard.press('Tab');
    const skip = await focused(page);
    assert.equal(skip.tag, 'a');
    assert.equal(await page.evaluate(() => document.activeElement.getAttribute('href')), '#main');
    const box = await page.locator('a.skip').boundingBox();
    assert.ok(box && box.x >= 0 && box.y >= 0 && box.width > 1, `the skip link is on screen when focused: ${JSON.stringify(box)}`);
    assert.notEqual(skip.outlineStyle, 'none');
  });
}
