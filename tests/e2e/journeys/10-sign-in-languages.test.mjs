// Journey 1: signing in, in Chinese and in English. The sign-in page follows the browser's
// language (or the 中文 / English links); once signed in, the user's saved language rules,
// and the profile page changes it. A wrong password says so and keeps the e-mail.
//
// Uses its own sales rep (the fourth), whose language it changes and puts back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoPassword, launch, newPage, shot, url } from '../lib.mjs';
import { htmlLang, navigation, nthLogin, pathOf, signInPatiently } from './support.mjs';

/** Fill the sign-in form and press its button; returns the response of the page shown. */
async function submitLogin(page, email, password) {
  const form = page.locator('form[action="/login"]');
  await form.locator('input[name=email]').fill(email);
  await form.locator('input[name=password]').fill(password);
  return navigation(page, () => form.locator('button[type=submit]').click());
}

test('sign in with a Chinese browser, then with an English one, and change the language', async (t) => {
  const browser = await launch();
  const rep = nthLogin('sales', 3);

  // Whatever happens below, the rep's saved language goes back to Chinese (the seed's),
  // then the browser closes.
  t.after(async () => {
    try {
      const page = await newPage(browser, { locale: 'zh-CN' });
      await signInPatiently(page, rep.email);
      await page.goto(url('/profile'));
      await page.locator('select#locale').selectOption('zh-CN');
      await navigation(page, () => page.locator('form[action="/profile"] button[type=submit]').click());
    } finally {
      await browser.close();
    }
  });

  // 1. A Chinese browser gets the sign-in page in Chinese.
  const zh = await newPage(browser, { locale: 'zh-CN' });
  let res = await zh.goto(url('/login'));
  assert.equal(res.status(), 200);
  assert.equal(await htmlLang(zh), 'zh-CN');
  assert.equal((await zh.locator('form[action="/login"] button[type=submit]').innerText()).trim(), '登录');
  assert.equal(await zh.locator('label[for=email]').innerText(), '邮箱');
  await shot(zh, 'j1-login-zh');

  // Signing in lands on the home page, which greets the rep by name in Chinese.
  res = await submitLogin(zh, rep.email, demoPassword());
  assert.equal(res.status(), 200);
  assert.equal(pathOf(zh), '/');
  assert.equal(await htmlLang(zh), 'zh-CN');
  assert.equal((await zh.locator('main h1').innerText()).trim(), `${rep.name}，您好`);
  assert.equal((await zh.locator('header.top .me button[type=submit]').innerText()).trim(), '退出');
  await zh.context().close();

  // 2. An English browser gets it in English.
  const en = await newPage(browser, { locale: 'en-US' });
  res = await en.goto(url('/login'));
  assert.equal(await htmlLang(en), 'en');
  assert.equal((await en.locator('form[action="/login"] button[type=submit]').innerText()).trim(), 'Sign in');
  assert.equal(await en.locator('label[for=email]').innerText(), 'E-mail');

  // A wrong password: the form comes back (401) saying so, with the e-mail still typed in.
  res = await submitLogin(en, rep.email, 'not-the-password');
  assert.equal(res.status(), 401);
  assert.equal(pathOf(en), '/login');
  assert.equal((await en.locator('#login-error[role=alert]').innerText()).trim(),
    'The e-mail or password is not right.');
  assert.equal(await en.locator('input[name=email]').inputValue(), rep.email);
  assert.equal(await en.locator('input[name=password]').inputValue(), '', 'the password is not sent back');
  assert.equal(await en.locator('input[name=email]').getAttribute('aria-describedby'), 'login-error');
  await shot(en, 'j1-login-wrong-password-en');

  // The 中文 link switches the sign-in page to Chinese.
  await navigation(en, () => en.locator('p.langs a[lang="zh-CN"]').click());
  assert.equal(pathOf(en), '/login');
  assert.equal(await htmlLang(en), 'zh-CN');
  assert.equal((await en.locator('form[action="/login"] button[type=submit]').innerText()).trim(), '登录');

  // Signed in, the rep's saved language (Chinese) decides.
  res = await submitLogin(en, rep.email, demoPassword());
  assert.equal(res.status(), 200);
  assert.equal(pathOf(en), '/');
  assert.equal((await en.locator('main h1').innerText()).trim(), `${rep.name}，您好`);

  // 3. The profile page changes the language to English.
  await en.goto(url('/profile'));
  assert.equal((await en.locator('main h1').innerText()).trim(), '个人资料');
  assert.equal(await en.locator('select#locale').inputValue(), 'zh-CN');
  await en.locator('select#locale').selectOption('en');
  res = await navigation(en, () => en.locator('form[action="/profile"] button[type=submit]').click());
  assert.equal(res.status(), 200);
  assert.equal(pathOf(en), '/profile');
  assert.equal(await htmlLang(en), 'en');
  assert.equal((await en.locator('main h1').innerText()).trim(), 'My profile');
  assert.equal((await en.locator('div.notice').innerText()).trim(), 'Profile saved.');
  assert.equal(await en.locator('select#locale').inputValue(), 'en');
  await shot(en, 'j1-profile-en');

  // Every page is English now: the home page greets in English.
  await en.goto(url('/'));
  assert.equal((await en.locator('main h1').innerText()).trim(), `Good day, ${rep.name}`);

  // Signing out (the header's button) goes back to the sign-in page, still in English.
  const signOut = en.locator('header.top .me button[type=submit]');
  assert.equal((await signOut.innerText()).trim(), 'Sign out');
  await navigation(en, () => signOut.click());
  assert.equal(pathOf(en), '/login');
  assert.equal((await en.locator('form[action="/login"] button[type=submit]').innerText()).trim(), 'Sign in');

  // Signed out means signed out: the home page sends the browser to sign in again.
  await en.goto(url('/'));
  assert.equal(pathOf(en), '/login');

  // The saved language follows the user to a new browser: a Chinese browser, signed in,
  // is now shown English.
  const again = await newPage(browser, { locale: 'zh-CN' });
  await signInPatiently(again, rep.email);
  assert.equal(await htmlLang(again), 'en');
  assert.equal((await again.locator('main h1').innerText()).trim(), `Good day, ${rep.name}`);
  await again.context().close();
});
