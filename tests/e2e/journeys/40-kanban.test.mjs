// Journey 4: move deals on the pipeline kanban. Drag a card to another open stage; move one
// to won with the keyboard (the card's own form), which asks for the reason in a dialog;
// and without JavaScript, moving to won without a reason is refused and the deal stays.
//
// Uses the third sales rep's own deals (nobody else's journey moves them).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DESKTOP, launch, newPage, shot, url } from '../lib.mjs';
import { navigation, nthLogin, pathOf, signInPatiently } from './support.mjs';

const OPEN = ['prospecting', 'qualification', 'proposal', 'negotiation'];

/** The lanes of the board: [{stage, closing, ids}] */
function lanes(page) {
  return page.locator('section.lane[data-stage]').evaluateAll((ls) =>
    ls.map((l) => ({
      stage: l.dataset.stage,
      closing: l.dataset.closing === 'true',
      ids: [...l.querySelectorAll('li.deal[data-id]')].map((c) => c.dataset.id),
    })),
  );
}

/** The stage whose lane shows the card, or null. */
function laneOf(page, id) {
  return page
    .locator(`li.deal[data-id="${id}"]`)
    .evaluateAll((cs) => (cs.length ? cs[0].closest('section.lane').dataset.stage : null));
}

/** A card in an open lane (not `except`) and another open lane to move it to. */
async function pick(page, except = []) {
  const all = await lanes(page);
  assert.deepEqual(all.map((l) => l.stage).slice(0, 4), OPEN, 'the open stages come first');
  for (const from of all.filter((l) => !l.closing)) {
    const id = from.ids.find((i) => !except.includes(i));
    if (!id) continue;
    const to = all.find((l) => !l.closing && l.stage !== from.stage);
    return { id, from: from.stage, to: to.stage };
  }
  throw new Error('no open deal on this board');
}

test('drag a deal to another stage, then win one with the keyboard', async (t) => {
  const browser = await launch();
  t.after(() => browser.close());
  const rep = nthLogin('sales', 2);
  const page = await newPage(browser, { locale: 'zh-CN' });
  await signInPatiently(page, rep.email);
  let res = await page.goto(url('/pipeline'));
  assert.equal(res.status(), 200);
  await shot(page, 'j4-kanban-before');

  // 1. Drag and drop (HTML5): the script posts the card's move form.
  const drag = await pick(page);
  const card = page.locator(`li.deal[data-id="${drag.id}"]`);
  const dealName = (await card.locator('a.deal-name').innerText()).trim();
  const target = page.locator(`section.lane[data-stage="${drag.to}"]`);
  const landed = page.waitForNavigation({ timeout: 10_000, waitUntil: 'load' });
  landed.catch(() => {});
  // Drop on the lane's header: the middle of a long lane is off screen, and scrolling to it
  // between the press and the first move makes Chromium drag whichever card is then under
  // the pointer.
  await page.evaluate(() => window.scrollTo(0, 0));
  await card.dragTo(target.locator('header'));
  let usedDragTo = true;
  res = await landed.catch(() => null);
  if (!res) {
    // Playwright's mouse drag did not produce HTML5 drag events here: send them as the
    // browser would, with one DataTransfer through dragstart, dragover and drop.
    usedDragTo = false;
    t.diagnostic('dragTo fired no HTML5 drag and drop; dispatching the events instead');
    res = await navigation(page, () =>
      page.evaluate(({ id, to }) => {
        const src = document.querySelector(`li.deal[data-id="${id}"]`);
        const lane = document.querySelector(`section.lane[data-stage="${to}"] ol.cards`);
        const dt = new DataTransfer();
        const fire = (el, type) =>
          el.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
        fire(src, 'dragstart');
        fire(lane, 'dragenter');
        fire(lane, 'dragover');
        fire(lane, 'drop');
        fire(src, 'dragend');
      }, drag),
    );
  }
  t.diagnostic(`moved by ${usedDragTo ? "Playwright's dragTo" : 'dispatched drag events'}`);
  assert.equal(res.status(), 200);
  assert.equal(pathOf(page), '/pipeline');
  const notice = await page.locator('div.notice').innerText();
  assert.ok(notice.includes(dealName), `the notice names the deal ${JSON.stringify(dealName)}: ${JSON.stringify(notice)}`);
  assert.match(notice, /已移到|moved to/);
  assert.equal(await laneOf(page, drag.id), drag.to);
  await page.reload();
  assert.equal(await laneOf(page, drag.id), drag.to, 'still there after a reload');
  assert.equal(await page.locator('div.notice').count(), 0, 'the notice is shown once');

  // 2. The keyboard path: the card's own form; won asks for the reason in a dialog.
  const win = await pick(page, [drag.id]);
  const box = page.locator(`li.deal[data-id="${win.id}"] details.move-box`);
  await box.locator('summary').focus();
  await page.keyboard.press('Enter');
  assert.equal(await box.getAttribute('open'), '', 'Enter opens the move box');
  const stage = box.locator('select[name=stage]');
  await stage.focus();
  await stage.selectOption('won');
  await box.locator('button[type=submit]').focus();
  await page.keyboard.press('Enter');
  const dialog = page.locator('dialog#reason-dialog');
  await dialog.waitFor({ state: 'visible', timeout: 5_000 });
  assert.equal(pathOf(page), '/pipeline', 'nothing was sent yet');
  await shot(page, 'j4-reason-dialog');
  await dialog.locator('#reason-input').fill('客户预算已批，合同已签');
  res = await navigation(page, () => dialog.locator('button[value=ok]').click());
  assert.equal(res.status(), 200);
  assert.equal(await page.locator('p.error').count(), 0);
  assert.match(await page.locator('div.notice').innerText(), /已移到|moved to/);
  assert.equal(await laneOf(page, win.id), 'won');
  assert.equal(await page.locator('section.lane[data-stage="won"]').getAttribute('data-closing'), 'true');
  await shot(page, 'j4-kanban-after');

  // The deal's own page says won, with the reason.
  await page.goto(url(`/opportunities/${win.id}`));
  const facts = await page.locator('dl.facts').innerText();
  assert.match(facts, /客户预算已批，合同已签/);
});

test('in the reason dialog, Enter confirms the move (as the Move button does)', async (t) => {
  const browser = await launch();
  t.after(() => browser.close());
  const page = await newPage(browser, { locale: 'zh-CN' });
  await signInPatiently(page, nthLogin('sales', 2).email);
  await page.goto(url('/pipeline'));
  const deal = await pick(page);
  const box = page.locator(`li.deal[data-id="${deal.id}"] details.move-box`);
  await box.locator('summary').click();
  await box.locator('select[name=stage]').selectOption('won');
  await box.locator('button[type=submit]').click();
  const dialog = page.locator('dialog#reason-dialog');
  await dialog.waitFor({ state: 'visible', timeout: 5_000 });
  await dialog.locator('#reason-input').fill('年度框架协议已签');
  // A person typing the reason presses Enter; that must not be taken as Cancel.
  const res = await navigation(page, () => dialog.locator('#reason-input').press('Enter'), { timeout: 5_000 })
    .catch(() => null);
  assert.ok(res, `Enter in the reason field sent nothing (the dialog closed with "${await dialog.evaluate((d) => d.returnValue)}")`);
  assert.equal(await laneOf(page, deal.id), 'won');
});

test('without JavaScript, won without a reason is refused and the deal stays', async (t) => {
  const browser = await launch();
  t.after(() => browser.close());
  const rep = nthLogin('sales', 2);
  const context = await browser.newContext({ viewport: DESKTOP, locale: 'zh-CN', javaScriptEnabled: false });
  const page = await context.newPage();
  await signInPatiently(page, rep.email);
  await page.goto(url('/pipeline'));
  assert.ok(await page.locator('form[action="/pipeline"] button.no-js').isVisible(),
    'without script the pipeline picker has its own button');

  const deal = await pick(page);
  const box = page.locator(`li.deal[data-id="${deal.id}"] details.move-box`);
  await box.locator('summary').click();
  await box.locator('select[name=stage]').selectOption('won');
  const res = await navigation(page, () => box.locator('button[type=submit]').click());
  assert.equal(res.status(), 200);
  assert.equal(pathOf(page), '/pipeline');
  assert.match(await page.locator('p.error').innerText(), /需要填写原因|needs a reason/);
  assert.equal(await page.locator('div.notice').count(), 0);
  assert.equal(await laneOf(page, deal.id), deal.from, 'the deal stays where it was');
  await shot(page, 'j4-nojs-reason-required');

  // With the reason typed into the card's own field, it moves.
  const box2 = page.locator(`li.deal[data-id="${deal.id}"] details.move-box`);
  await box2.locator('summary').click();
  await box2.locator('select[name=stage]').selectOption('lost');
  await box2.locator('input[name=reason]').fill('价格没有竞争力');
  await navigation(page, () => box2.locator('button[type=submit]').click());
  assert.equal(await page.locator('p.error').count(), 0);
  assert.equal(await laneOf(page, deal.id), 'lost');
});
