/**
 * Online correction of the performance model from observed latency: per class, a factor by which
 * observed tail latency has exceeded what the model predicted for the fleet that served it. The
 * planner then plans against SLO / factor, so a model that runs optimistic (a noisy neighbour, a
 * slower AMI, a size mixture it misjudged) is corrected within a few windows instead of missing
 * the SLO for good.
 */
export interface LatencyFeedbackOptions {
  /** EWMA weight of each new observation (0..1]. */
  readonly gain: number;
  /** Windows with fewer completed requests are ignored (their p99 is noise). */
  readonly minSamples: number;
  /**
   * Bounds on the factor: the model is corrected, never overruled. The default floor of 1 only
   * ever tightens: a pessimistic model costs some latency, an optimistic one costs the SLO.
   */
  readonly min: number;
  readonly max: number;
}

const DEFAULT_LATENCY_FEEDBACK: LatencyFeedbackOptions = { gain: 0.3, minSamples: 200, min: 1, max: 2 };

export class LatencyFeedback {
  readonly options: LatencyFeedbackOptions;
  private readonly factors = new Map<string, number>();

  constructor(options: Partial<LatencyFeedbackOptions> = {}) {
    this.options = { ...DEFAULT_LATENCY_FEEDBACK, ...options };
  }

  /** observed / predicted for the fleet that ran: 1 until evidence arrives. */
  factor(className: string): number {
    return this.factors.get(className) ?? 1;
  }

  /** Records one window: the observed SLO-quantile latency and the model's raw prediction for it. */
  observe(className: string, observedMs: number, predictedMs: number, samples: number): number {
    const o = this.options;
    const f = this.factor(className);
    if (samples < o.minSamples || !(observedMs > 0) || !(predictedMs > 0) || !Number.isFinite(predictedMs)) return f;
    const ratio = Math.min(o.max, Math.max(o.min, observedMs / predictedMs));
    const next = Math.min(o.max, Math.max(o.min, (1 - o.gain) * f + o.gain * ratio));
    this.factors.set(className, next);
    return next;
  }
}
