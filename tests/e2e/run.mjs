#!/usr/bin/env node
// The browser-journey runner: starts `guanxi demo` on a fresh SQLite database in a temp
// directory, waits for it to print its URL and demo logins, runs the journeys
// (journeys/*.test.mjs, one at a time, with node's test runner) against it, stops the
// server and exits with the journeys' status.
//
//   node tests/e2e/run.mjs [JOURNEY.test.mjs ...] [node --test options ...]
//
// Environment: GUANXI_BIN, the binary (default target/debug/guanxi under the repository
// root; a relative path is taken from the repository root); GUANXI_E2E_PORT, a port to
// serve on (default: a free one); GUANXI_E2E_START_TIMEOUT, seconds the demo may take to
// be ready (default 180); GUANXI_E2E_TEST_TIMEOUT, ms one test file may take (default 420000);
// GUANXI_E2E_RUN_TIMEOUT, seconds all the journeys together may take (default 1200);
// GUANXI_E2E_DATABASE, the database the demo seeds (default a new SQLite file in a temp
// directory; a PostgreSQL URL must name an empty database); GUANXI_E2E_ARTIFACTS, where
// screenshots and the server log go (default tests/e2e/artifacts).
// The journeys get GUANXI_E2E_URL, GUANXI_E2E_LOGINS (JSON [{email, role, name}]),
// GUANXI_E2E_CUSTOMER (JSON {email, name} of the customer portal's demo login, or null),
// GUANXI_E2E_PASSWORD and GUANXI_E2E_ARTIFACTS (emptied at the start; the server's output
// goes to server.log there). With GUANXI_E2E_PYTHON (a Python with aiosmtpd), the demo
// sends its mail to a local SMTP sink: the journeys get GUANXI_E2E_MAIL, the folder with
// each message as JSON, and GUANXI_E2E_BOUNCE_PORT, the demo's bounce listener.

import { spawn } from 'node:child_process';
import {
  accessSync,
  constants,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');
const JOURNEYS = join(HERE, 'journeys');
const ARTIFACTS = resolve(process.env.GUANXI_E2E_ARTIFACTS || join(HERE, 'artifacts'));
const SERVER_LOG = join(ARTIFACTS, 'server.log');
const MAILDIR = join(ARTIFACTS, 'mail');
const START_TIMEOUT_MS = 1000 * Number(process.env.GUANXI_E2E_START_TIMEOUT || 180);
const HEALTH_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
// Node 20 applies --test-timeout to each file's run as a whole as well as to its tests, so
// it must cover the longest journey (98 and 99 wait for clocks and jobs: up to 420 s).
const TEST_TIMEOUT_MS = Number(process.env.GUANXI_E2E_TEST_TIMEOUT || 420_000);
const RUN_TIMEOUT_MS = 1000 * Number(process.env.GUANXI_E2E_RUN_TIMEOUT || 1200);

const say = (msg) => console.log(`[e2e] ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Fatal extends Error {}

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

function lastLines(file, n) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');
  } catch {
    return '(no server log)';
  }
}

/**
 * The demo server as a child process. `ready` resolves with {url, password, logins, customer} once
 * the login list has been printed, and rejects when the server exits first or does not
 * get there within START_TIMEOUT_MS.
 */
/**
 * The SMTP server the demo's mail goes to: the outbound tests' aiosmtpd sink, which keeps
 * each message parsed as JSON in `maildir` (the journeys read it there). Resolves with
 * {child, port}; needs GUANXI_E2E_PYTHON, a Python with aiosmtpd (.ci/py-env prints one).
 */
function startMailSink(python, maildir) {
  mkdirSync(maildir, { recursive: true });
  const script = join(REPO, 'crates', 'outbound', 'tests', 'support', 'smtp_sink.py');
  const child = spawn(python, [script, maildir], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((ok, fail) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/PORT (\d+)/);
      if (m) ok({ child, port: Number(m[1]) });
    });
    child.on('exit', (code) => fail(new Fatal(`the mail sink exited (${code}) before listening`)));
  });
}

function startDemo(bin, dir, port, log, mail) {
  const args = [
    '--database', process.env.GUANXI_E2E_DATABASE || `sqlite:${join(dir, 'e2e.db')}`,
    'demo',
    '--bind', `127.0.0.1:${port}`,
    '--analytics-every', '0',
  ];
  if (mail) {
    // Mail goes to the sink; bounces come back to the demo's own bounce address; links in
    // mail (tracking, unsubscribe) lead to this server.
    args.push(
      '--smtp-host', '127.0.0.1', '--smtp-port', String(mail.port), '--smtp-security', 'none',
      '--smtp-from', 'Guanxi Demo <crm@guanxi.demo>',
      '--smtp-bounce-address', 'bounces@guanxi.demo',
      '--bounce-listen', `127.0.0.1:${mail.bouncePort}`,
      '--public-url', `http://127.0.0.1:${port}/`,
    );
  }
  say(`starting ${bin.startsWith(REPO + '/') ? relative(REPO, bin) : bin} ${args.join(' ')}`);
  const env = { ...process.env };
  // Nothing from a config file or the caller's settings: the demo is hermetic.
  delete env.GUANXI_CONFIG;
  delete env.GUANXI_BIND;
  delete env.GUANXI_ANALYTICS_EVERY;
  // cwd is the temp dir, so no ./guanxi.toml is picked up either.
  const child = spawn(bin, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const server = { child, exited: false, code: null, signal: null };

  let settle;
  server.ready = new Promise((ok, fail) => (settle = { ok, fail }));
  server.ready.catch(() => {}); // a rejection nobody waits for any more is no crash
  const found = { url: null, password: null, logins: [], customer: null, inLogins: false, afterLogins: false, done: false };
  const timer = setTimeout(
    () => settle.fail(new Fatal(`the demo did not print its logins within ${START_TIMEOUT_MS / 1000} s`)),
    START_TIMEOUT_MS,
  );

  // Both pipes are read to the end (so neither fills up) and copied to the log.
  let pending = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    log.write(chunk);
    if (found.done) return;
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop();
    for (const raw of lines) {
      const line = raw.replace(/\r$/, '');
      let m;
      if (!found.url && (m = line.match(/^Guanxi demo: (\S+)/))) {
        found.url = m[1];
      } else if (found.url && (m = line.match(/^Demo logins \(password for each: (.*)\):$/))) {
        found.password = m[1];
        found.inLogins = true;
      } else if (found.inLogins && line.trim() === '') {
        // The customer portal's login may follow, then a blank line ends the block.
        found.inLogins = false;
        found.afterLogins = true;
      } else if (found.afterLogins && (m = line.match(/^Customer portal \(\S+\): (\S+@\S+)\s+\((.*?),/))) {
        found.customer = { email: m[1], name: m[2] };
      } else if (found.afterLogins) {
        found.done = true;
        clearTimeout(timer);
        settle.ok({ url: found.url, password: found.password, logins: found.logins, customer: found.customer });
        break;
      } else if (found.inLogins && (m = line.match(/^\s+(\S+@\S+)\s+(\S+)\s+(.*?)\s*$/))) {
        found.logins.push({ email: m[1], role: m[2], name: m[3] });
      }
    }
  });
  child.stderr.on('data', (chunk) => log.write(chunk));

  server.closed = new Promise((ok) => {
    child.on('error', (e) => {
      clearTimeout(timer);
      server.exited = true;
      settle.fail(new Fatal(`could not start ${bin}: ${e.message}`));
      ok();
    });
    // 'close': the process has exited and both pipes are drained into the log.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      Object.assign(server, { exited: true, code, signal });
      settle.fail(new Fatal(`the demo server exited (${signal ?? `status ${code}`}) before it was ready`));
      ok();
    });
  });
  return server;
}

async function waitHealthy(url) {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = e.cause?.code ?? e.message;
    }
    await sleep(250);
  }
  throw new Fatal(`${url}/healthz did not answer 200 within ${HEALTH_TIMEOUT_MS / 1000} s (${last})`);
}

async function stopServer(server) {
  if (!server || server.exited) return;
  server.child.kill('SIGTERM');
  const stopped = await Promise.race([server.closed.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
  if (!stopped) {
    say(`the server did not stop within ${STOP_GRACE_MS / 1000} s of SIGTERM: SIGKILL`);
    server.child.kill('SIGKILL');
    await server.closed;
  }
}

function journeyFiles(args) {
  const files = args.filter((a) => a.endsWith('.mjs')).map((a) => resolve(a));
  if (files.length) return files;
  if (!existsSync(JOURNEYS)) return [];
  return readdirSync(JOURNEYS)
    .filter((f) => f.endsWith('.test.mjs'))
    .sort()
    .map((f) => join(JOURNEYS, f));
}

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function runJourneys(files, options, env) {
  const args = [
    '--test',
    '--test-concurrency=1',
    `--test-timeout=${TEST_TIMEOUT_MS}`,
    ...options,
    ...files,
  ];
  say(`node ${args.map((a) => (a.startsWith(REPO) ? relative(REPO, a) : a)).join(' ')}`);
  // In a process group of its own, so that the files' processes (node --test runs each
  // file in a child of its own) can be stopped with it: killGroup.
  const child = spawn(process.execPath, args, { cwd: HERE, env, stdio: 'inherit', detached: true });
  // A journey that never ends (a browser left open keeps its file's process alive, and
  // the per-file limit is generous) must not hold CI until its own limit.
  const timer = setTimeout(() => {
    console.error(`[e2e] the journeys did not finish within ${RUN_TIMEOUT_MS / 1000} s: stopping them`);
    killGroup(child, 'SIGTERM');
    setTimeout(() => killGroup(child, 'SIGKILL'), 5_000).unref();
  }, RUN_TIMEOUT_MS);
  const done = new Promise((ok) => {
    child.on('error', (e) => {
      console.error(`[e2e] could not run node --test: ${e.message}`);
      ok(1);
    });
    child.on('exit', (code, signal) => ok(code || (signal ? 1 : 0)));
  }).finally(() => clearTimeout(timer));
  return { child, done };
}

async function main() {
  const started = Date.now();
  const argv = process.argv.slice(2);
  const bin = resolve(REPO, process.env.GUANXI_BIN || join('target', 'debug', 'guanxi'));
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    console.error(`[e2e] no executable guanxi at ${bin}: run \`cargo build -p guanxi\` or set GUANXI_BIN`);
    return 2;
  }
  const files = journeyFiles(argv);
  if (!files.length) {
    console.error(`[e2e] no journeys (*.test.mjs) in ${relative(REPO, JOURNEYS)}`);
    return 2;
  }
  const options = argv.filter((a) => !a.endsWith('.mjs'));

  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'guanxi-e2e-'));
  const log = createWriteStream(SERVER_LOG);
  let server = null;
  let tests = null;
  let sink = null;
  let status = 1;

  // Ctrl-C or a CI cancel: stop the journeys, then clean up as on any other ending.
  let interrupted = null;
  let interrupt;
  const interruption = new Promise((_, fail) => (interrupt = fail));
  interruption.catch(() => {});
  const onSignal = (sig) => {
    if (interrupted) return;
    interrupted = sig;
    say(`${sig}: stopping`);
    interrupt(new Fatal(`interrupted (${sig})`));
    if (tests) killGroup(tests.child, sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const port = Number(process.env.GUANXI_E2E_PORT) || (await freePort());
    const python = process.env.GUANXI_E2E_PYTHON;
    if (python) {
      sink = await startMailSink(python, MAILDIR);
      sink.bouncePort = await freePort();
      say(`mail goes to the sink on port ${sink.port} (kept in ${relative(REPO, MAILDIR)}); bounces come back on ${sink.bouncePort}`);
    }
    server = startDemo(bin, dir, port, log, sink);
    const demo = await Promise.race([server.ready, interruption]);
    if (!demo.logins.length) throw new Fatal('the demo printed no logins');
    await Promise.race([waitHealthy(demo.url), interruption]);
    const roles = [...new Set(demo.logins.map((l) => l.role))].join(', ');
    say(`demo ready at ${demo.url} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${demo.logins.length} logins (${roles})`);

    const env = {
      ...process.env,
      GUANXI_E2E_URL: demo.url,
      GUANXI_E2E_LOGINS: JSON.stringify(demo.logins),
      GUANXI_E2E_CUSTOMER: JSON.stringify(demo.customer),
      GUANXI_E2E_PASSWORD: demo.password ?? 'guanxi-demo',
      GUANXI_E2E_ARTIFACTS: ARTIFACTS,
      GUANXI_E2E_MAIL: sink ? MAILDIR : '',
      GUANXI_E2E_BOUNCE_PORT: sink ? String(sink.bouncePort) : '',
    };
    tests = runJourneys(files, options, env);
    status = await tests.done;
    killGroup(tests.child, 'SIGKILL'); // whatever a journey left running
    if (interrupted) status = { SIGINT: 130, SIGTERM: 143 }[interrupted] ?? 1;
    if (server.exited) {
      console.error(`[e2e] the demo server died during the journeys (${server.signal ?? `status ${server.code}`})`);
      status = status || 1;
    }
  } catch (e) {
    if (!(e instanceof Fatal)) throw e;
    console.error(`[e2e] ${e.message}`);
    status = { SIGINT: 130, SIGTERM: 143 }[interrupted] ?? 1;
  } finally {
    await stopServer(server);
    if (sink) sink.child.kill('SIGKILL');
    await new Promise((ok) => log.end(ok));
    rmSync(dir, { recursive: true, force: true });
  }
  if (status !== 0 && server) {
    console.error(`---- server log (last 40 lines of ${relative(REPO, SERVER_LOG)}) ----`);
    console.error(lastLines(SERVER_LOG, 40));
  }
  const pngs = readdirSync(ARTIFACTS).filter((f) => f.endsWith('.png')).length;
  say(`${status === 0 ? 'passed' : `FAILED (status ${status})`} in ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
    `${pngs} screenshot(s) and server.log in ${relative(process.cwd(), ARTIFACTS) || '.'}`);
  return status;
}

main().then(
  (status) => process.exit(status),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
