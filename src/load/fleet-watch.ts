import { request } from 'undici';
import type { Clock } from '../core/clock.ts';
import { sameMix, type Mix, type Ms } from '../core/types.ts';

/** The fleet behind a router at one moment, as its snapshot counts backends per type. */
export interface FleetSample {
  /** Since the start of the replay. */
  readonly tMs: Ms;
  readonly mix: Mix;
}

/** A poll's answer that is not a router's snapshot (a node's 404, say): the target has no fleet to watch. */
const NOT_A_ROUTER = Symbol('not a router');

/**
 * Watches the fleet while a replay runs: polls the router's `GET /v1/snapshot` and keeps a
 * sample whenever the mix of backends per type changes, so the load report shows how the
 * fleet followed the load. A target without a snapshot (a node, or another proxy) yields none;
 * a poll that gets no answer is skipped, not the end of the watch.
 */
export class FleetWatch {
  readonly samples: FleetSample[] = [];
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly url: string;
  private readonly clock: Clock;
  private readonly everyMs: Ms;

  constructor(origin: string, clock: Clock, everyMs: Ms = 1000) {
    this.url = new URL('/v1/snapshot', origin).href;
    this.clock = clock;
    this.everyMs = everyMs;
  }

  start(startMs: Ms): void {
    this.loop = (async () => {
      while (!this.stopped) {
        const mix = await this.poll();
        if (mix === NOT_A_ROUTER) return;
        // A poll that got no answer (a busy router past the 2 s, a dropped connection) is
        // skipped: the fleet may still change, and the report must show it.
        const last = this.samples[this.samples.length - 1];
        if (mix !== undefined && (last === undefined || !sameMix(last.mix, mix))) this.samples.push({ tMs: this.clock.now() - startMs, mix });
        await this.clock.sleep(this.everyMs);
      }
    })();
  }

  async stop(): Promise<FleetSample[]> {
    this.stopped = true;
    await this.loop;
    return this.samples;
  }

  /** The mix now; undefined when the poll got no answer; NOT_A_ROUTER when the answer is not a snapshot. */
  private async poll(): Promise<Mix | undefined | typeof NOT_A_ROUTER> {
    let snap: { pools?: Array<{ type?: unknown; backends?: unknown }> };
    try {
      const r = await request(this.url, { headersTimeout: 2000, bodyTimeout: 2000 });
      if (r.statusCode !== 200) {
        await r.body.dump();
        return NOT_A_ROUTER;
      }
      snap = (await r.body.json()) as typeof snap;
    } catch (e) {
      // No answer, or one cut short: try again at the next poll. A 200 that is not JSON is no snapshot.
      return e instanceof SyntaxError ? NOT_A_ROUTER : undefined;
    }
    if (snap === null || typeof snap !== 'object' || !Array.isArray(snap.pools)) return NOT_A_ROUTER;
    const mix: Record<string, number> = {};
    for (const p of snap.pools) {
      if (typeof p.type === 'string' && typeof p.backends === 'number' && p.backends > 0) mix[p.type] = (mix[p.type] ?? 0) + p.backends;
    }
    return Object.fromEntries(Object.entries(mix).sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}
