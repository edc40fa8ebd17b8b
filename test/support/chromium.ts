// Headless Chromium (Debian's package, driven by playwright-core) for tests that must see a page
// the way a browser draws it: the HTML report's charts and tables. The recipe and its pitfalls are
// in ../shared/notes/chromium-for-tests.md: --no-sandbox because CI runs as root, HOME in a temp dir
// so nothing lands in /root, and a sweep of the profile dirs a killed run left in /tmp.
// Every browser opened here is closed by this module's afterAll, also when a test failed or timed
// out; a browser that does not close in time is SIGKILLed (its process group, which Playwright
// makes it lead), and once the file is over no new browser starts. Missing Chromium fails the
// test with the command that installs it: the tests never skip.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll } from 'vitest';
import { makeTempDir, removeTempDir } from './tmp';
import { bound } from './wait';

const CHROMIUM_PATH = process.env.MAILWARDEN_CHROMIUM ?? '/usr/bin/chromium';

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--log-level=3',
];

export interface OpenedPage {
  page: Page;
  /** Every URL the page tried to fetch besides the file itself; each was aborted. */
  requests: string[];
}

interface Running {
  browser: Browser;
  home: string;
  /** chromium processes that are children of this worker, found after launch (for the kill). */
  pids: number[];
}

const running = new Set<Running>();
let finished = false;

async function requireChromium(): Promise<void> {
  try {
    await fs.access(CHROMIUM_PATH, fs.constants.X_OK);
  } catch {
    throw new Error(`Chromium is not installed at ${CHROMIUM_PATH}: run scripts/test-setup.sh as root (apt-get install chromium), or set MAILWARDEN_CHROMIUM`);
  }
}

/** The running chromium processes whose parent is this worker (Playwright starts them directly). */
async function chromiumChildren(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …; comm may hold spaces, so split after the last ')'.
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && comm.startsWith('chromium')) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/**
 * Removes profile and artifact dirs that killed runs left in the temp dir. A dir still named on a
 * running process's command line belongs to a browser in use (another test file) and stays.
 */
async function sweepLeftovers(): Promise<void> {
  const tmp = os.tmpdir();
  const names = (await fs.readdir(tmp)).filter((n) => n.startsWith('playwright_chromiumdev_profile-') || n.startsWith('playwright-artifacts-'));
  if (names.length === 0) return;
  let inUse = '';
  for (const entry of await fs.readdir('/proc')) {
    if (/^\d+$/.test(entry)) inUse += await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
  }
  const hourAgo = Date.now() - 3_600_000;
  for (const name of names) {
    const dir = path.join(tmp, name);
    const stat = await fs.stat(dir).catch(() => null);
    // Artifact dirs are not on any command line: only old ones are taken as left behind.
    if (!stat || inUse.includes(dir) || (name.startsWith('playwright-artifacts-') && stat.mtimeMs > hourAgo)) continue;
    await removeTempDir(dir);
  }
}

async function launch(): Promise<Running> {
  if (finished) throw new Error('refusing to start Chromium: this test file has finished (a timed-out test is still running)');
  await requireChromium();
  await sweepLeftovers();
  const home = await makeTempDir('mailwarden-chromium-home-');
  const before = new Set(await chromiumChildren());
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS, env: { ...process.env, HOME: home }, timeout: bound(30_000) });
  const run: Running = { browser, home, pids: (await chromiumChildren()).filter((p) => !before.has(p)) };
  running.add(run);
  return run;
}

async function shutdown(run: Running): Promise<void> {
  running.delete(run);
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    run.browser.close().then(
      () => true,
      () => false,
    ),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), bound(10_000)))),
  ]);
  clearTimeout(timer);
  if (!closed) {
    for (const pid of run.pids) {
      try {
        process.kill(-pid, 'SIGKILL'); // Playwright starts Chromium as the leader of its own group
      } catch {
        // gone already
      }
    }
  }
  await removeTempDir(run.home);
}

let shared: Running | undefined;

/** One browser per test file, started on first use. */
async function browser(): Promise<Browser> {
  shared ??= await launch();
  return shared.browser;
}

/**
 * Opens a local file in a fresh page (its own context: no cache or cookies shared) with all
 * network traffic blocked and recorded in `requests`, and JavaScript off, since the file must
 * work without it. Playwright's evaluate still runs the test's own DOM queries.
 */
export async function openInChromium(file: string, viewport = { width: 800, height: 1000 }): Promise<OpenedPage> {
  const context = await (await browser()).newContext({ viewport, javaScriptEnabled: false });
  const url = pathToFileURL(file).href;
  const requests: string[] = [];
  // Both the route and the request event see a request; each URL is listed once.
  const record = (seen: string) => {
    if (seen !== url && !requests.includes(seen)) requests.push(seen);
  };
  await context.route('**/*', async (route) => {
    if (route.request().url() === url) return route.continue();
    record(route.request().url());
    return route.abort('blockedbyclient');
  });
  context.setDefaultTimeout(bound(30_000));
  const page = await context.newPage();
  page.on('request', (r) => record(r.url()));
  const response = await page.goto(url, { waitUntil: 'load', timeout: bound(30_000) });
  if (response && !response.ok()) throw new Error(`Chromium could not open ${url}: status ${response.status()}`);
  return { page, requests };
}

afterAll(async () => {
  finished = true;
  await Promise.all([...running].map(shutdown));
  shared = undefined;
});
