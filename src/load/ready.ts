import { setTimeout as sleep } from 'node:timers/promises';
import { MixscaleError } from '../core/errors.ts';
import type { Ms } from '../core/types.ts';
import { formatDuration } from '../core/units.ts';

/** The OIP v2 readiness URL of the model an infer URL names (`.../v2/models/M[/versions/V]/ready`). */
export function readyUrl(infer: URL): URL {
  const url = new URL(infer.href);
  url.pathname = url.pathname.replace(/\/infer$/, '/ready');
  return url;
}

/**
 * Waits until `url` answers 200, asking every `everyMs`, for at most `timeoutMs`: a replay
 * started before the first nodes serve would spend its first seconds on 503s. Rejects naming the
 * URL and its last answer when the time runs out, and as interrupted when `signal` aborts.
 */
export async function waitReady(url: URL, timeoutMs: Ms, signal?: AbortSignal, everyMs: Ms = 500): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  // A function, not a property read: the type checker would take `aborted` as fixed after one look.
  const interrupted = (): boolean => signal?.aborted === true;
  for (;;) {
    if (interrupted()) throw new MixscaleError('MIXSCALE_INTERRUPTED', `load: interrupted while waiting for ${url.href} to be ready`);
    const ask = AbortSignal.timeout(Math.max(1, Math.min(5_000, deadline - Date.now())));
    try {
      // An interrupt also ends an ask in progress, which may wait up to 5 s for its answer.
      const res = await fetch(url, { signal: signal !== undefined ? AbortSignal.any([ask, signal]) : ask });
      await res.body?.cancel();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      // An ask cut short by the deadline says nothing new: the answer before it is the last one.
      if (!ask.aborted) last = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
      else if (last === 'no answer yet') last = 'no answer';
    }
    if (Date.now() + everyMs > deadline) {
      throw new MixscaleError('MIXSCALE_BACKEND_UNAVAILABLE', `load: ${url.href} was not ready within ${formatDuration(timeoutMs)} (--wait-ready; last: ${last})`);
    }
    if (interrupted()) continue; // interrupted during the ask: no pause
    // The pause ends early on an interrupt (it rejects then; the loop's next look reports it).
    await sleep(everyMs, undefined, signal !== undefined ? { signal } : {}).catch(() => undefined);
  }
}
