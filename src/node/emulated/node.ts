import type { ProfileTable } from '../../catalog/profiles.ts';
import type { Clock } from '../../core/clock.ts';
import { MixscaleError } from '../../core/errors.ts';
import type { Rng } from '../../core/rng.ts';
import type { Ms } from '../../core/types.ts';
import type { InferenceNode } from '../http.ts';
import { requestSize, type OipInferRequest, type OipInferResponse } from '../oip.ts';

export interface EmulatedOptions {
  /** Requests served at once (a GPU server batches concurrent requests; a CPU one has a few workers). */
  readonly slots: number;
  /**
   * Timers fire up to ~1.5 ms late, which would shift narrow profiles (rm2 on r5n.large at
   * size 100 spans 42.4..43.9 ms) out of their measured range. With a slack, the node sleeps
   * until `slack` ms before the end and then yields with setImmediate until the exact time:
   * at most `slack` ms of polling per request. 0 (simulated clocks) sleeps exactly.
   */
  readonly timerSlackMs?: number;
}

/**
 * Stands in for a remote model server (Triton, KServe, TorchServe) of one instance type:
 * each request holds one of `slots` slots for a service time drawn from the measured profile
 * of (type, model, size), waiting FIFO when all are busy. Sleeping on a timer is the point:
 * the work happens on the emulated machine, not this one, so many nodes fit on one host.
 */
export class EmulatedNode implements InferenceNode {
  readonly requireInputs = false;
  private readonly table: ProfileTable;
  private readonly clock: Clock;
  private readonly rng: Rng;
  private readonly slots: number;
  private readonly slackMs: number;
  private busy = 0;
  /** Requests waiting for a slot, oldest first: each is handed the slot by `release`. */
  private readonly queue: Array<() => void> = [];
  private served = 0;

  constructor(table: ProfileTable, clock: Clock, rng: Rng, opts: EmulatedOptions) {
    this.table = table;
    this.clock = clock;
    this.rng = rng;
    this.slots = opts.slots;
    this.slackMs = opts.timerSlackMs ?? 0;
  }

  get modelName(): string {
    return this.table.model;
  }

  metadata(): Record<string, unknown> {
    return {
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, -1] }],
      outputs: [{ name: 'output', datatype: 'FP32', shape: [-1] }],
      parameters: {
        emulated: true,
        instance_type: this.table.type,
        slots: this.slots,
        // The sizes served; below the smallest measured one, with its service times (as in sim).
        sizes: [1, this.table.maxSize],
        measured_sizes: [this.table.minSize, this.table.maxSize],
        busy: this.busy,
        queue: this.queue.length,
        served: this.served,
      },
    };
  }

  async infer(req: OipInferRequest, arrivalMs: Ms, signal?: AbortSignal): Promise<OipInferResponse> {
    const size = requestSize(req);
    // A size below the smallest measured one is served with that size's service times, as the
    // simulator and the planner do (ProfileTable: Kairos pads a query up to its smallest batch);
    // above the largest there is no data.
    if (!this.table.covers(size)) {
      const field = req.parameters.size !== undefined ? 'parameters.size' : 'inputs[0].shape';
      const { model, type, minSize, maxSize } = this.table;
      throw new MixscaleError(
        'MIXSCALE_REQUEST_INVALID',
        `${field}: size ${size} is above the largest measured size of ${model} on ${type} (${maxSize}); this node serves sizes 1..${maxSize} (below ${minSize} with size ${minSize}'s service times)`,
        { field },
      );
    }
    // A request whose client went away while it waited leaves the queue (as on the edge node):
    // it must not hold the slot for a service time nobody waits for. One already served runs on.
    await this.acquire(signal);
    const startMs = this.clock.now();
    const serviceMs = this.table.sample(size, this.rng);
    try {
      await this.hold(startMs + serviceMs);
    } finally {
      this.release();
    }
    this.served++;
    const endMs = this.clock.now();
    return {
      model_name: this.table.model,
      ...(req.id !== undefined ? { id: req.id } : {}),
      parameters: { instance_type: this.table.type, size, service_ms: serviceMs, queue_ms: startMs - arrivalMs, elapsed_ms: endMs - arrivalMs },
      outputs: [{ name: 'output', datatype: 'FP32', shape: [size], data: new Array<number>(size).fill(0) }],
    };
  }

  private async hold(until: Ms): Promise<void> {
    await this.clock.sleep(until - this.clock.now() - this.slackMs);
    if (this.slackMs > 0) while (this.clock.now() < until) await new Promise<void>((r) => setImmediate(r));
  }

  private acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) return Promise.reject(new Error('the client went away before the request was served'));
    if (this.busy < this.slots) {
      this.busy++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const granted = (): void => {
        signal?.removeEventListener('abort', abandon);
        resolve();
      };
      const abandon = (): void => {
        const i = this.queue.indexOf(granted);
        if (i >= 0) this.queue.splice(i, 1);
        reject(new Error('the client went away while the request waited for a slot'));
      };
      signal?.addEventListener('abort', abandon, { once: true });
      this.queue.push(granted);
    });
  }

  private release(): void {
    const next = this.queue.shift();
    if (next !== undefined) next();
    else this.busy--;
  }
}
