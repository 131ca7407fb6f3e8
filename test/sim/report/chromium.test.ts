import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { renderHtml } from '../../../sim/report/html.ts';
import { tinyReport } from './tiny-scenario.ts';

const CHROMIUM = ['chromium', 'chromium-browser'].find((c) => spawnSync(c, ['--version'], { encoding: 'utf8' }).status === 0);

/** Headless Chromium as the project runs it: no sandbox (root in CI), nothing fetched from the network. */
function chromium(dir: string, args: readonly string[]): { status: number | null; stdout: string } {
  const r = spawnSync(
    CHROMIUM!,
    ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${join(dir, 'profile')}`, ...args],
    { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
  );
  return { status: r.status, stdout: r.stdout };
}

describe('the HTML report in a real browser (headless Chromium)', function () {
  this.timeout(120_000);
  let dir: string;
  let page: string;

  before(async function () {
    if (CHROMIUM === undefined) this.skip(); // .ci/run installs Debian's chromium; skipped only where that failed
    dir = mkdtempSync(join(tmpdir(), 'mixscale-report-'));
    page = join(dir, 'report.html');
    writeFileSync(page, await renderHtml(await tinyReport(3, 'browser')));
  });

  after(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('parses into the whole page: every plot, the comparison rows and the last section', () => {
    const r = chromium(dir, ['--dump-dom', pathToFileURL(page).href]);
    assert.equal(r.status, 0);
    const dom = r.stdout;
    assert.ok((dom.match(/<svg/g) ?? []).length >= 6, 'every vega-lite plot is an <svg> in the DOM');
    assert.ok((dom.match(/<path/g) ?? []).length > 20, 'plots have marks');
    for (const policy of ['homogeneous-fast', 'homogeneous-cheap']) assert.ok(dom.includes(policy), policy);
    assert.match(dom, /Latency CDF/);
    assert.match(dom, /<\/html>\s*$/);
  });

  it('renders to a screenshot with content, not a blank page', () => {
    const png = join(dir, 'report.png');
    const r = chromium(dir, ['--window-size=1200,2400', `--screenshot=${png}`, pathToFileURL(page).href]);
    assert.equal(r.status, 0);
    // A blank 1200×2400 page compresses to a few KB; plots, text and tables to far more.
    assert.ok(statSync(png).size > 50_000, `screenshot is only ${statSync(png).size} bytes`);
  });
});
