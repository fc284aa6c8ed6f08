// Journey 9.7: an administrator subscribes a receiver to new accounts in the webhook form
// (a URL that is not http(s) refused beside its input, what was typed kept), creates an
// account, and the receiver (a small HTTP server of this journey) gets it signed as
// Standard Webhooks says; the subscription's page shows the secret and the delivery, and
// "send again" sends the same message once more. `guanxi demo` runs the webhook follower
// and the job runner, so the delivery is real.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { launch, loginFor, newPage, shot, url } from '../lib.mjs';
import { formErrors, navigation, pathOf, signInPatiently, stamp } from './support.mjs';

/** A receiver on loopback keeping every request's headers and body. */
async function receiver() {
  const got = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { got, server, url: `http://127.0.0.1:${server.address().port}/hook` };
}

/** Whether `secret` (whsec_…) signed the request, as the spec's verifiers check it. */
function signedBy(secret, { headers, body }) {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key)
    .update(`${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`)
    .digest();
  return headers['webhook-signature'].split(' ').some((s) => {
    const sig = Buffer.from(s.replace(/^v1,/, ''), 'base64');
    return sig.length === expected.length && timingSafeEqual(sig, expected);
  });
}

async function until(what, check) {
  for (let i = 0; i < 60; i++) {
    const v = check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`waited in vain for ${what}`);
}

test('an administrator subscribes a receiver and it gets new accounts, signed', async (t) => {
  const hook = await receiver();
  t.after(() => hook.server.close());
  const browser = await launch();
  t.after(() => browser.close());
  const page = await newPage(browser, { locale: 'zh-CN' });
  const email = loginFor('admin').email;
  await signInPatiently(page, email);
  const mark = stamp();

  // The administrator's own id, for the owner field.
  await page.goto(url(`/users?filter=email:eq:${encodeURIComponent(email)}`));
  const userHref = await page.locator('table a[href^="/users/"]').first().getAttribute('href');
  const userId = userHref.split('/').pop();

  await page.goto(url('/admin'));
  await navigation(page, () => page.locator('a[href="/admin/webhooks"]').click());
  await navigation(page, () => page.getByRole('link', { name: /新建 Webhook|New webhook/ }).click());
  assert.equal(pathOf(page), '/webhooks/new');
  const form = page.locator('form.record-form');
  const fill = async (u) => {
    await form.locator('[name=name]').fill(`ERP ${mark}`);
    await form.locator('[name=url]').fill(u);
    await form.locator('[name=entity]').fill('account');
    await form.locator('[name=events]').fill('created');
    await form.locator('[name=user_id]').fill(userId);
  };
  await fill('ftp://erp.example.com/in');
  let res = await navigation(page, () => form.locator('button[type=submit]').click());
  assert.equal(res.status(), 422);
  assert.equal(await form.locator('[name=url]').inputValue(), 'ftp://erp.example.com/in');
  assert.equal(await form.locator('[name=name]').inputValue(), `ERP ${mark}`);
  assert.ok(await page.locator('#f-url-err').isVisible(), 'the error sits by the URL');
  await form.locator('[name=url]').fill(hook.url);
  res = await navigation(page, () => form.locator('button[type=submit]').click());
  assert.equal(res.status(), 200, await formErrors(page));
  const id = pathOf(page).split('/').pop();
  assert.match(id, /^[0-9a-f-]{36}$/, await formErrors(page));

  // A new account, through its form; the receiver gets it.
  await page.goto(url('/accounts/new'));
  const acc = page.locator('form.record-form');
  await acc.locator('[name=name]').fill(`网钩客户 ${mark}`);
  res = await navigation(page, () => acc.locator('button[type=submit]').click());
  assert.equal(res.status(), 200, await formErrors(page));
  const first = await until('the delivery', () => hook.got.find((r) => r.body.includes(mark)));
  const body = JSON.parse(first.body);
  assert.equal(body.type, 'account.created');
  assert.equal(body.data.name, `网钩客户 ${mark}`);

  // The subscription's page: the secret that signed it, the delivery, and send again.
  await page.goto(url(`/admin/webhooks/${id}`));
  const secret = (await page.locator('code.secret').innerText()).trim();
  assert.match(secret, /^whsec_/);
  assert.ok(signedBy(secret, first), 'signed with the secret the page shows');
  assert.match(await page.locator('table').innerText(), /已送达|Delivered/);
  await shot(page, 'j97-webhook-page');
  const before = hook.got.length;
  // (Other journeys' accounts may be in the log too: the row of this one's delivery.)
  const row = page.locator('tr', { hasText: first.headers['webhook-id'] });
  res = await navigation(page, () => row.getByRole('button', { name: /重新发送|Send again/ }).click());
  assert.equal(res.status(), 200);
  const again = await until('the replay', () =>
    hook.got.slice(before).find((r) => r.headers['webhook-id'] === first.headers['webhook-id']));
  assert.equal(again.body, first.body);
  assert.ok(signedBy(secret, again));
});
