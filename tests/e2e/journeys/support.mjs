// Small helpers the journeys share, on top of ../lib.mjs. Not a journey itself: run.mjs
// only runs files named *.test.mjs.

import { baseUrl, logins, signIn, url } from '../lib.mjs';

/** A suffix that makes names unique across journeys and runs: `1732380000000-k3`. */
export function stamp() {
  return `${Date.now()}-${Math.random().toString(36).slice(2, 5)}`;
}

/** The n-th demo login of a role (0 = the first): sales(2) is rep003. */
export function nthLogin(role, n) {
  const all = logins().filter((l) => l.role === role);
  if (!all[n]) throw new Error(`there is no demo login #${n + 1} with the role ${role}`);
  return all[n];
}

/**
 * Run `action` (a click that submits a form or follows a link) and wait until the main frame
 * has committed and loaded the page it leads to; returns that page's response (after any
 * redirects): its status is the status of what the browser shows (200 after a redirect, 422
 * for a form sent back with errors, 409 for a conflict). Rejects when nothing loads within
 * `timeout` ms.
 *
 * (Waiting for the response alone is not enough: it arrives before the new document
 * replaces the old one, and the old one, already loaded, would be read as the new.)
 */
export async function navigation(page, action, { timeout = 30_000 } = {}) {
  const navigated = page.waitForNavigation({ timeout, waitUntil: 'load' });
  navigated.catch(() => {}); // when `action` throws, nobody waits for it any more
  await action();
  const response = await navigated;
  if (!response) throw new Error(`no new page was loaded (now at ${page.url()})`);
  return response;
}

/** The path of the page the browser shows: `/accounts/…`. */
export function pathOf(page) {
  return new URL(page.url()).pathname;
}

/**
 * Sign in as `email` like lib.signIn, but when the server's per-address sign-in limit
 * (a burst of 20, then one every 3 s) answers "too many attempts", wait and try again:
 * every journey signs in from 127.0.0.1.
 */
export async function signInPatiently(page, email, tries = 5) {
  for (let i = 1; ; i++) {
    try {
      return await signIn(page, email);
    } catch (e) {
      if (i >= tries || !/too many|次数过多|过于频繁/i.test(e.message)) throw e;
      await new Promise((r) => setTimeout(r, 4_000));
    }
  }
}

/**
 * Show this browser context's pages in `lang` ('zh-CN' or 'en') whatever the user's saved
 * locale: the language cookie the server sets at sign-in and on the profile page.
 */
export async function useLanguage(context, lang) {
  await context.addCookies([{ name: 'guanxi_lang', value: lang, url: baseUrl() }]);
}

/** What a form sent back says is wrong, for assertion messages: "f-tags: 无效。 …; …". */
export function formErrors(page) {
  return page
    .locator('.field-error, [role=alert]')
    .evaluateAll((es) => es.map((e) => `${e.id ? `${e.id.replace(/-err$/, '')}: ` : ''}${e.textContent.trim()}`).join('; '))
    .then((s) => `the form came back saying: ${s || '(nothing)'}`);
}

/** The `<html lang>` of the page. */
export function htmlLang(page) {
  return page.locator('html').getAttribute('lang');
}

/**
 * Create an account through /accounts/new (the page must be signed in) and return
 * {id, name, href}. `fields` maps input names to values (selects are chosen by value).
 * The account is tagged `e2e` unless `fields` says otherwise: it marks what the journeys
 * made (journey 20 creates an untagged one).
 */
export async function createAccount(page, fields) {
  fields = { tags: 'e2e', ...fields };
  await page.goto(url('/accounts/new'));
  const form = page.locator('form.record-form');
  for (const [name, value] of Object.entries(fields)) {
    const input = form.locator(`[name="${name}"]`);
    const tag = await input.evaluate((el) => el.tagName);
    if (tag === 'SELECT') await input.selectOption(value);
    else await input.fill(value);
  }
  const res = await navigation(page, () => form.locator('button[type=submit]').click());
  const m = pathOf(page).match(/^\/accounts\/([0-9a-f-]{36})$/);
  if (res.status() !== 200 || !m) {
    throw new Error(`creating the account ${fields.name} ended on ${page.url()} (${res.status()}); ${await formErrors(page)}`);
  }
  return { id: m[1], name: fields.name, href: `/accounts/${m[1]}` };
}
