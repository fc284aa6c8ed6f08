// Helpers for the browser journeys in journeys/*.test.mjs.
//
// run.mjs starts a seeded demo server and passes it to the journeys through the
// environment: GUANXI_E2E_URL (the server), GUANXI_E2E_LOGINS (JSON [{email, role, name}]),
// GUANXI_E2E_CUSTOMER (JSON {email, name}: the customer portal's login),
// GUANXI_E2E_PASSWORD (every demo login's password) and GUANXI_E2E_ARTIFACTS (where
// screenshots go). The browser is Debian's Chromium driven by playwright-core, which
// downloads no browser of its own.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));

/** The Chromium binary: Debian's package, unless GUANXI_E2E_CHROMIUM names another. */
export const CHROMIUM = process.env.GUANXI_E2E_CHROMIUM || '/usr/bin/chromium';

/**
 * The flags Chromium needs on these machines. Without the background-networking ones it
 * hangs on the connections the closed network refuses. Playwright gives every launch a
 * fresh, empty profile directory: keep it that way (no --user-data-dir here).
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Viewport presets for newPage. */
export const DESKTOP = Object.freeze({ width: 1280, height: 800 });
export const PHONE = Object.freeze({ width: 375, height: 812, isMobile: true, hasTouch: true });
const PRESETS = { desktop: DESKTOP, phone: PHONE };

/** The locale a page gets when none is asked for (it sets Accept-Language). */
export const DEFAULT_LOCALE = 'en-US';

/**
 * A headless Chromium; close it when done (`t.after(() => browser.close())`). Every context
 * it opens (newPage below, or browser.newContext directly) watches for Content Security
 * Policy violations, and closing a context or the browser throws when any were seen: a
 * journey fails on any page that breaks the CSP. See cspViolations.
 */
export async function launch(options = {}) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    ...options,
  });
  const seen = [];
  VIOLATIONS.set(browser, seen);
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (...args) => {
    const context = await newContext(...args);
    await watchCsp(context, seen);
    const close = context.close.bind(context);
    context.close = async (...a) => {
      await flush(context);
      await close(...a);
      reportCsp(seen);
    };
    return context;
  };
  const close = browser.close.bind(browser);
  browser.close = async (...a) => {
    await Promise.all(browser.contexts().map(flush));
    await close(...a);
    reportCsp(seen);
  };
  return browser;
}

/** Per browser from launch(): the CSP violations its pages caused, [{via, url, text}]. */
const VIOLATIONS = new WeakMap();

/** How the init script's console error for a `securitypolicyviolation` event begins. */
const CSP_EVENT = 'securitypolicyviolation:';

/**
 * Record the CSP violations of a context's pages in `seen`, through both of Chromium's
 * channels: the console error it logs for each (which needs no script, so pages of a
 * context without JavaScript are covered too; with `pageerror` for a refused eval) and the
 * DOM's `securitypolicyviolation` event, which an init script (installed over CDP, so not
 * itself page content under the CSP) turns into a console error with a known prefix.
 */
async function watchCsp(context, seen) {
  await context.addInitScript((prefix) => {
    const report = console.error.bind(console);
    document.addEventListener(
      'securitypolicyviolation',
      (e) => report(`${prefix} ${e.effectiveDirective} blocked ${e.blockedURI || 'inline'}` +
        ` at ${e.sourceFile || e.documentURI}:${e.lineNumber}`),
      true,
    );
  }, CSP_EVENT);
  const where = (page) => page?.url() ?? '(no page)';
  context.on('console', (msg) => {
    const text = msg.text();
    if (text.startsWith(CSP_EVENT)) seen.push({ via: 'event', url: where(msg.page()), text });
    else if (/Content Security Policy/i.test(text)) seen.push({ via: 'console', url: where(msg.page()), text });
  });
  context.on('weberror', (e) => {
    const text = String(e.error()?.message ?? e.error());
    if (/Content Security Policy/i.test(text)) seen.push({ via: 'pageerror', url: where(e.page()), text });
  });
}

/** Let the pages' queued violation events reach us before the context goes. */
async function flush(context) {
  const idle = (page) => Promise.race([
    page.evaluate(() => new Promise((r) => setTimeout(r, 0))).catch(() => {}),
    new Promise((r) => setTimeout(r, 1_000)),
  ]);
  await Promise.all(context.pages().map(idle));
}

/** Throw, once, for the violations not reported yet. */
function reportCsp(seen) {
  if (!seen.length) return;
  const list = seen.splice(0).map((v) => `  ${v.url} (${v.via}): ${v.text}`);
  throw new Error(`Content Security Policy violations:\n${list.join('\n')}`);
}

/**
 * The CSP violations seen so far in the browser of `page` (a page, context or browser
 * from launch()), [{via: 'console' | 'event' | 'pageerror', url, text}]; `{forget: true}`
 * also clears them, so that a journey that caused them on purpose does not fail.
 */
export function cspViolations(target, { forget = false } = {}) {
  const browser = target.context?.().browser() ?? target.browser?.() ?? target;
  const seen = VIOLATIONS.get(browser);
  if (!seen) throw new Error('cspViolations: not a browser from launch()');
  return forget ? seen.splice(0) : [...seen];
}

/**
 * A page in a context of its own (its own cookies, so one sign-in does not leak into the
 * next page). `opts` is a preset name ('desktop', the default, or 'phone') or an object
 * {width, height, locale, preset, isMobile, hasTouch}; `locale` (default en-US) sets the
 * Accept-Language header and navigator.language, e.g. 'zh-CN'. Closing the page's context
 * (`page.context().close()`) or the browser closes the page.
 */
export async function newPage(browser, opts = {}) {
  if (typeof opts === 'string') opts = { preset: opts };
  const preset = PRESETS[opts.preset ?? 'desktop'];
  if (!preset) throw new Error(`newPage: no preset '${opts.preset}' (desktop or phone)`);
  const { width, height, isMobile, hasTouch } = { ...preset, ...opts };
  const context = await browser.newContext({
    viewport: { width, height },
    isMobile: Boolean(isMobile),
    hasTouch: Boolean(hasTouch),
    locale: opts.locale ?? DEFAULT_LOCALE,
  });
  return context.newPage();
}

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the journeys through tests/e2e/run.mjs`);
  }
  return value;
}

/** The demo server's address, without a trailing slash: http://127.0.0.1:PORT */
export function baseUrl() {
  return required('GUANXI_E2E_URL').replace(/\/+$/, '');
}

/** The absolute URL of a path on the demo server: url('/login'). */
export function url(path = '/') {
  return baseUrl() + (path.startsWith('/') ? path : `/${path}`);
}

/** Every demo login the server printed, in its order: [{email, role, name}]. */
export function logins() {
  return JSON.parse(required('GUANXI_E2E_LOGINS'));
}

/** The first demo login of a role (admin, manager, sales, marketing, service, analyst, readonly, partner). */
export function loginFor(role) {
  const all = logins();
  const login = all.find((l) => l.role === role);
  if (!login) {
    const roles = [...new Set(all.map((l) => l.role))].join(', ');
    throw new Error(`no demo login has the role '${role}' (roles: ${roles})`);
  }
  return login;
}

/** The customer portal's demo login, {email, name}: a customer near a station with a partner login. */
export function demoCustomer() {
  const customer = JSON.parse(required('GUANXI_E2E_CUSTOMER'));
  if (!customer) throw new Error('the demo printed no customer portal login');
  return customer;
}

/** Every demo login's password (the portal customer's too). */
export function demoPassword() {
  return process.env.GUANXI_E2E_PASSWORD || 'guanxi-demo';
}

/** The directory screenshots and logs go to (created when missing). */
export function artifactsDir() {
  const dir = process.env.GUANXI_E2E_ARTIFACTS || join(HERE, 'artifacts');
  mkdirSync(dir, { recursive: true });
  return resolve(dir);
}

/** A full-page PNG of the page, saved as artifacts/<name>.png; returns its path. */
export async function shot(page, name) {
  if (!/^[\w.-]+$/.test(name)) {
    throw new Error(`shot: '${name}' is not a plain file name (letters, digits, _ . -)`);
  }
  const path = join(artifactsDir(), `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

function onLoginPage(page) {
  return new URL(page.url()).pathname.replace(/\/+$/, '') === '/login';
}

/**
 * Sign in through the login form: open /login, fill the inputs named email and password,
 * submit the form and wait until the browser has left /login. Throws, with what the page
 * says and a screenshot `signin-failed-<email>.png`, when the form comes back instead.
 */
export async function signIn(page, email, password = demoPassword()) {
  await page.goto(url('/login'));
  const form = page.locator('form[action="/login"]');
  await form.locator('input[name="email"]').fill(email);
  await form.locator('input[name="password"]').fill(password);
  // The form posts and the server answers with a page (the form again, on failure) or a
  // redirect: either way the main frame navigates once.
  const navigated = page.waitForEvent('framenavigated', {
    predicate: (frame) => frame === page.mainFrame(),
  });
  await form.locator('button[type="submit"]').click();
  await navigated;
  await page.waitForLoadState('load');
  if (onLoginPage(page)) {
    const text = (await page.locator('body').innerText().catch(() => '')).trim();
    await shot(page, `signin-failed-${email.replace(/[^\w.-]/g, '_')}`).catch(() => {});
    throw new Error(
      `signing in as ${email} stayed on ${page.url()}; the page says:\n${text.slice(0, 500)}`,
    );
  }
  return page;
}

/** Sign in as the first demo login of a role; returns that login. */
export async function signInAs(page, role) {
  const login = loginFor(role);
  await signIn(page, login.email);
  return login;
}
