// Journey 9.9: a marketer's campaign, from the segment to the return.
//
// The marketer builds a segment of contacts of at-risk customers who accepted e-mail
// (watching the live count), points the demo's A/B campaign at it, sets its variants and
// control group, and launches it. `guanxi demo` sends the mail to a local SMTP server (the
// runner's sink, GUANXI_E2E_MAIL); from there the journey behaves as the recipients would:
// one opens and clicks (a tampered link is refused), one unsubscribes in the browser and
// answers about SMS on the preferences page, one address bounces (a delivery status
// notification sent over SMTP to the demo's bounce address), and one clicked customer
// orders. The campaign page shows each response, the return over the control group, and
// the responder profile; the contact page shows the consent history.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { launch, loginFor, newPage, shot, url } from '../lib.mjs';
import { formErrors, navigation, pathOf, signInPatiently, stamp } from './support.mjs';

const MAIL = process.env.GUANXI_E2E_MAIL;
const BOUNCE_PORT = Number(process.env.GUANXI_E2E_BOUNCE_PORT);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Every message the sink received, as its JSON. */
function mailbox() {
  return readdirSync(MAIL)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(MAIL, f), 'utf8')));
}

/** The decoded part of `type` of a received message (HTML's entity-escaped slashes and
 * ampersands in addresses read back, as a browser reads them). */
function part(message, type) {
  const p = message.parts.find((x) => x.content_type === type);
  return p ? p.content.replace(/&#x2f;/gi, '/').replace(/&amp;/g, '&') : '';
}

/** Reload `path` until `check(page)` gives a truthy value, for up to `ms`. */
async function until(page, path, check, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    await page.goto(url(path));
    const v = await check(page);
    if (v) return v;
    if (Date.now() > deadline) {
      await shot(page, `j99-waited-${what.replace(/\W+/g, '-')}`).catch(() => {});
      throw new Error(`waited ${ms / 1000} s for ${what} on ${path}`);
    }
    await sleep(1_000);
  }
}

/** A variant row of the campaign page's table: {members, sent, opened, clicked, …}. */
async function variants(page) {
  const rows = page.locator('#campaign-variants-table tbody tr');
  const out = [];
  for (let i = 0; i < (await rows.count()); i++) {
    const cells = (await rows.nth(i).locator('td').allInnerTexts()).map((c) => c.trim());
    const n = (j) => Number(cells[j].replace(/,/g, ''));
    out.push({
      name: cells[0], members: n(1), queued: n(2), sent: n(3), refused: n(4), failed: n(5),
      opened: n(6), clicked: n(7), bounced: n(8), unsubscribed: n(9), replied: n(10), converted: n(11), revenue: cells[12],
    });
  }
  return out;
}

const total = (vs, k) => vs.reduce((s, v) => s + v[k], 0);

/** Speak SMTP to the bounce listener as a receiving MTA does, from the null sender. */
function sendBounce(message) {
  const lines = ['EHLO mx.example.cn', 'MAIL FROM:<>', 'RCPT TO:<bounces@guanxi.demo>', 'DATA'];
  return new Promise((ok, fail) => {
    const sock = createConnection(BOUNCE_PORT, '127.0.0.1');
    let buf = '';
    let step = 0;
    const replies = [];
    sock.setEncoding('utf8');
    sock.on('error', fail);
    sock.on('data', (d) => {
      buf += d;
      // A reply is complete at a line "NNN text" (not "NNN-" continued).
      while (/^\d{3} .*\r\n/m.test(buf)) {
        const m = buf.match(/^(?:\d{3}-.*\r\n)*(\d{3}) .*\r\n/);
        if (!m) break;
        buf = buf.slice(m[0].length);
        replies.push(Number(m[1]));
        if (step < lines.length) {
          sock.write(`${lines[step++]}\r\n`);
        } else if (step === lines.length) {
          step++;
          const body = message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
          sock.write(`${body}\r\n.\r\n`);
        } else {
          sock.write('QUIT\r\n');
          sock.end();
          ok(replies);
        }
      }
    });
  });
}

function dsn(recipient, messageId) {
  return [
    'From: MAILER-DAEMON@mx.example.cn (Mail Delivery System)',
    'To: bounces@guanxi.demo',
    'Subject: Undelivered Mail Returned to Sender',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"',
    '',
    '--B1',
    'Content-Type: text/plain',
    '',
    'Your message could not be delivered.',
    '',
    '--B1',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.cn',
    '',
    `Final-Recipient: rfc822; ${recipient}`,
    'Action: failed',
    'Status: 5.1.1',
    `Diagnostic-Code: smtp; 550 5.1.1 <${recipient}>: User unknown`,
    '',
    '--B1',
    'Content-Type: text/rfc822-headers',
    '',
    `To: ${recipient}`,
    `Message-ID: ${messageId}`,
    '',
    '--B1--',
    '',
  ].join('\n');
}

test('a marketer segments, launches an A/B campaign and reads responses, return and profile', { timeout: 420_000 }, async (t) => {
  assert.ok(MAIL, 'the runner sends the demo\'s mail to a sink (GUANXI_E2E_PYTHON)');
  const browser = await launch();
  t.after(() => browser.close());
  const mark = stamp();

  // --- The segment, with its live count.
  const page = await newPage(browser, { locale: 'zh-CN' });
  page.setDefaultTimeout(20_000);
  await signInPatiently(page, loginFor('marketing').email);
  await page.goto(url('/segments/new?entity=contact'));
  const form = page.locator('form[data-segment-form]');
  await form.locator('[name=name]').fill(`高价值流失风险联系人 ${mark}`);
  // High value not seen lately (RFM "cannot lose"), likely to churn, e-mail accepted.
  const conds = form.locator('#seg-conditions [data-row]');
  await conds.nth(0).locator('[name=c_field]').selectOption('account.rfm_segment');
  await conds.nth(0).locator('[name=c_op]').selectOption('eq');
  await conds.nth(0).locator('[name=c_value]').fill('cannot_lose');
  await form.locator('[data-seg-add=seg-conditions]').click();
  await conds.nth(1).locator('[name=c_field]').selectOption('account.churn_risk');
  await conds.nth(1).locator('[name=c_op]').selectOption('ge');
  await conds.nth(1).locator('[name=c_value]').fill('0.5');
  const fact = form.locator('[data-fact-row]').first();
  await fact.locator('[name=f_kind]').selectOption('consent');
  await fact.locator('[name=f_channel]').selectOption('email');
  await fact.locator('[name=f_given]').selectOption('yes');
  const counted = form.locator('[data-segment-count]');
  await sleep(1_500); // the count is asked 400 ms after the last change
  await page.waitForFunction((el) => /\d/.test(el.textContent), await counted.elementHandle(), { timeout: 20_000 });
  const live = Number((await counted.innerText()).replace(/[^\d]/g, ''));
  assert.ok(live > 0, `the live count: ${await counted.innerText()}`);
  let res = await navigation(page, () => form.locator('button[name=action][value=save]:not(.vh)').click());
  assert.equal(res.status(), 200, await formErrors(page));
  assert.match(pathOf(page), /^\/segments\/[0-9a-f-]{36}$/, await formErrors(page));
  const segmentId = pathOf(page).split('/').pop();

  // --- The demo's A/B campaign, pointed at it: variants 50/50 and a 20 % control group.
  await page.goto(url('/campaigns'));
  const href = await page.getByRole('link', { name: '老客户回馈 · A/B' }).first().getAttribute('href');
  const campaign = href.split('/').pop();
  await page.goto(url(`/campaigns/${campaign}/edit`));
  await page.locator('form.record-form [name=segment_id]').fill(segmentId);
  res = await navigation(page, () => page.locator('form.record-form button[type=submit].primary').click());
  assert.equal(res.status(), 200, await formErrors(page));
  await page.goto(url(`/campaigns/${campaign}/variants`));
  await page.locator('[name=control_percent]').fill('20');
  res = await navigation(page, () => page.locator('form.rule-form button[type=submit].primary').click());
  assert.equal(res.status(), 200, await formErrors(page));
  assert.equal(pathOf(page), `/campaigns/${campaign}`);

  // --- The journey after the message, drawn as a tree: the demo's three steps, and one
  // added here that marks every contact sent the message. A step that sends without a
  // template is refused beside the template, with what was typed kept.
  await page.goto(url(`/campaigns/${campaign}/journey`));
  assert.equal(await page.locator('#journey-tree [data-step]').count(), 3, await page.locator('#journey-tree').innerText());
  const add = page.locator('#journey-add');
  const stepName = `E2E 已发送标记 ${mark}`;
  await add.locator('#j-name').fill(stepName);
  await add.locator('#j-type').selectOption('send_email');
  res = await navigation(page, () => add.locator('button[type=submit].primary').click());
  assert.equal(res.status(), 422);
  assert.equal(await add.locator('#j-name').inputValue(), stepName, 'what was typed is kept');
  assert.ok(await add.locator('#j-template[aria-invalid=true], .invalid #j-template').count() > 0, await formErrors(page));
  await add.locator('#j-type').selectOption('update_field');
  await add.locator('#j-when').selectOption('always');
  await add.locator('#j-wait').fill('0');
  await add.locator('#j-field').selectOption('department');
  await add.locator('#j-value').fill('回馈已发');
  res = await navigation(page, () => add.locator('button[type=submit].primary').click());
  assert.equal(res.status(), 200, await formErrors(page));
  assert.equal(await page.locator('#journey-tree [data-step]').count(), 4);
  await shot(page, 'j99-journey');
  await page.goto(url(`/campaigns/${campaign}`));

  // --- Launch; the demo's job runner sends.
  page.once('dialog', (d) => d.accept());
  res = await navigation(page, () => page.locator(`form[action="/campaigns/${campaign}/launch"] button`).click());
  assert.equal(res.status(), 200);
  const sent = await until(page, `/campaigns/${campaign}`, async (p) => {
    const vs = await variants(p);
    return vs.length === 2 && total(vs, 'queued') === 0 && total(vs, 'sent') > 0 ? vs : null;
  }, 120_000, 'the campaign to be sent');
  const members = Number((await page.locator('#campaign-members').innerText()).replace(/,/g, ''));
  const control = Number((await page.locator('#campaign-control').innerText()).replace(/,/g, ''));
  assert.equal(members, live, 'the members are the segment as counted');
  assert.ok(control > 0 && control < members, `a control group: ${control} of ${members}`);
  await shot(page, 'j99-campaign-sent');

  // --- The mail as it arrived.
  const mails = mailbox().filter((m) => part(m, 'text/html').includes(`/t/o/${campaign}/`));
  assert.equal(mails.length, total(sent, 'sent'), 'one message per member sent');
  const [reader, leaver, bouncer] = mails;
  const html = part(reader, 'text/html');
  const pixel = html.match(/src="(http[^"]*\/t\/o\/[^"]+)"/)[1];
  const click = html.match(/href="(http[^"]*\/t\/c\/[^"]+)"/)[1];
  const contact = pixel.split('/t/o/')[1].split('/')[1];

  // Opened, then clicked: the redirect leads to the offer; a tampered link is refused.
  const visitor = await newPage(browser, { locale: 'zh-CN' });
  assert.equal((await visitor.request.get(pixel)).status(), 200);
  const followed = await visitor.request.get(click, { maxRedirects: 0 });
  assert.equal(followed.status(), 303);
  assert.equal(followed.headers().location, 'https://www.guanxi.demo/offers/spring');
  const tampered = click.replace(/\/t\/c\/([^/]+)\/([^/]+)\/([0-9a-f])/, (_, c, p, x) => `/t/c/${c}/${p}/${x === '0' ? '1' : '0'}`);
  assert.equal((await visitor.request.get(tampered, { maxRedirects: 0 })).status(), 404);

  // Unsubscribed in the browser, then an answer about SMS on the preferences page.
  const unsubscribe = part(leaver, 'text/html').match(/href="([^"]*\/unsubscribe\/[^"]+)"/)[1];
  await visitor.goto(unsubscribe);
  res = await navigation(visitor, () => visitor.locator('form button[type=submit]').click());
  assert.equal(res.status(), 200);
  assert.match(await visitor.locator('[role=status]').innerText(), /已退订/);
  await navigation(visitor, () => visitor.locator('#preferences-link').click());
  assert.equal(await visitor.locator('input[value=email]').isChecked(), false);
  // Whatever SMS was, the contact answers the other way.
  const sms = await visitor.locator('input[value=sms]').isChecked();
  await visitor.locator('input[value=sms]').setChecked(!sms);
  res = await navigation(visitor, () => visitor.locator('#preferences button[type=submit]').click());
  assert.equal(res.status(), 200);
  assert.ok(await visitor.locator('#preferences-saved').isVisible());
  assert.equal(await visitor.locator('input[value=sms]').isChecked(), !sms);
  await visitor.goto(`${visitor.url().split('?')[0]}?lang=en`);
  assert.match(await visitor.locator('h1').innerText(), /preferences/i);
  await shot(visitor, 'j99-preferences');

  // One address bounced: the receiving server's report comes back to the bounce address.
  const replies = await sendBounce(dsn(bouncer.rcpt_tos[0], bouncer.headers['message-id']));
  assert.deepEqual(replies.slice(-2), [354, 250], `the listener took it: ${replies}`);

  // The clicked customer orders: the shop's system records it through the API.
  const admin = await newPage(browser, { locale: 'zh-CN' });
  await signInPatiently(admin, loginFor('admin').email);
  await admin.goto(url('/'));
  const csrf = await admin.locator('input[name=_csrf]').first().inputValue();
  const person = await (await admin.request.get(url(`/api/v1/contacts/${contact}`))).json();
  const order = await admin.request.post(url('/api/v1/orders'), {
    headers: { 'x-csrf-token': csrf },
    data: {
      number: `E2E-${mark}`, account_id: person.account_id, contact_id: contact,
      status: 'confirmed', ordered_at: new Date().toISOString(), currency: 'CNY',
      lines: [{ sku: 'OFFER-1', name: '回馈礼包', quantity: 2, unit_price: 150000, unit_cost: 90000 }],
    },
  });
  assert.equal(order.status(), 201, await order.text());

  // --- The campaign page: every response, the return, then the profile.
  const after = await until(page, `/campaigns/${campaign}`, async (p) => {
    const vs = await variants(p);
    const ok = total(vs, 'opened') >= 1 && total(vs, 'clicked') >= 1 && total(vs, 'unsubscribed') >= 1
      && total(vs, 'bounced') >= 1 && total(vs, 'converted') >= 1;
    return ok ? vs : null;
  }, 60_000, 'the responses');
  assert.ok(after.some((v) => v.converted >= 1 && v.revenue.includes('3,000')), JSON.stringify(after));
  // The journey ran: every contact sent the message marked, and the click made the
  // owner's call task at once (the step watches a week for clicks).
  const node = (name) => page.locator('#journey-tree [data-step]', { hasText: name }).locator('.journey-counts').first();
  const ran = await until(page, `/campaigns/${campaign}`, async () => {
    const marked = await node(stepName).innerText();
    const called = await node('点击：销售致电').innerText();
    return marked.includes(`完成 ${total(sent, 'sent')}`) && /完成 1\b/.test(called) ? [marked, called] : null;
  }, 60_000, 'the journey steps');
  assert.ok(ran);
  const roi = await page.locator('#campaign-roi').innerText();
  assert.match(roi, /成本/);
  assert.match(roi, /¥3,000\.00/, roi);
  assert.match(await page.locator('#campaign-lift').innerText(), /p = /);
  await shot(page, 'j99-campaign-results');
  await navigation(page, () => page.locator('#campaign-profile-link').click());
  assert.match(await page.locator('#profile-summary').innerText(), /响应者 1/);
  assert.ok((await page.locator('section.profile-attribute').count()) > 0, 'attributes that separate responders');
  await shot(page, 'j99-profile');

  // --- The unsubscribed contact's consent history.
  const leaverContact = part(leaver, 'text/html').match(/\/t\/o\/[^/]+\/([0-9a-f-]{36})\//)[1];
  await page.goto(url(`/contacts/${leaverContact}`));
  const history = await page.locator('#consent-history').innerText();
  assert.match(history, /退订链接/);
  assert.match(history, /偏好设置页/);
});
