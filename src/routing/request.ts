import { MixscaleError } from '../core/errors.ts';
import type { Ms, RequestClass } from '../core/types.ts';
import type { RoutableRequest } from './types.ts';

/** Bytes per element of each OIP v2 tensor datatype (BYTES elements are variable: counted as 1). */
export const DATATYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  UINT8: 1,
  UINT16: 2,
  UINT32: 4,
  UINT64: 8,
  INT8: 1,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  FP16: 2,
  BF16: 2,
  FP32: 4,
  FP64: 8,
  BYTES: 1,
};

/** What the router learns from one inference request before routing it. */
export interface ParsedInfer {
  readonly req: RoutableRequest;
  readonly className: string;
  /** Bytes of tensor data the inputs declare (shape × datatype). */
  readonly tensorBytes: number;
  /** True when the client set the deadline: the router may then reject early. */
  readonly clientDeadline: boolean;
  /** The size came from the first input's shape, not parameters.size (for error messages). */
  readonly sizeFromShape: boolean;
}

/** The hints the router reads from headers (lower-cased names, as node gives them). */
export type InferHeaders = { readonly [name: string]: string | string[] | undefined };

type HintHeader = 'x-mixscale-deadline-ms' | 'x-mixscale-priority' | 'x-mixscale-class' | 'inference-header-content-length';

function invalid(field: string, msg: string): MixscaleError {
  return new MixscaleError('MIXSCALE_REQUEST_INVALID', `${field}: ${msg}`, { field });
}

function header(h: InferHeaders, name: HintHeader): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Resolves a model's request classes once, so the hot path does one map lookup. A model's
 * first class (config order) is its default; the tightest-SLO class serves priority requests.
 */
export class ClassTable {
  private readonly byModel = new Map<string, Array<{ index: number; cls: RequestClass }>>();
  private readonly byName = new Map<string, { index: number; cls: RequestClass }>();

  constructor(readonly classes: readonly RequestClass[]) {
    classes.forEach((cls, index) => {
      const list = this.byModel.get(cls.model) ?? [];
      list.push({ index, cls });
      this.byModel.set(cls.model, list);
      this.byName.set(cls.name, { index, cls });
    });
  }

  hasModel(model: string): boolean {
    return this.byModel.has(model);
  }

  models(): string[] {
    return [...this.byModel.keys()];
  }

  /**
   * The class of a request: named explicitly, else the tightest for a priority request, else
   * the loosest whose SLO still fits the client's deadline, else the model's first class.
   */
  resolve(model: string, named: string | undefined, critical: boolean, deadlineMs: number | undefined, namedBy = 'class'): { index: number; cls: RequestClass } {
    const list = this.byModel.get(model);
    if (list === undefined || list.length === 0) throw new MixscaleError('MIXSCALE_REQUEST_INVALID', `unknown model "${model}"`, { model });
    if (named !== undefined) {
      const c = this.byName.get(named);
      if (c === undefined || c.cls.model !== model) {
        throw invalid(namedBy, `"${named}" is not a class of model "${model}"; classes: ${list.map((x) => x.cls.name).join(', ')}`);
      }
      return c;
    }
    if (critical) return list.reduce((a, b) => (b.cls.sloMs < a.cls.sloMs ? b : a));
    if (deadlineMs !== undefined) {
      let best: { index: number; cls: RequestClass } | undefined;
      for (const c of list) if (c.cls.sloMs <= deadlineMs && (best === undefined || c.cls.sloMs > best.cls.sloMs)) best = c;
      return best ?? list.reduce((a, b) => (b.cls.sloMs < a.cls.sloMs ? b : a));
    }
    return list[0]!;
  }
}

function parsePriority(v: unknown, field: string): boolean {
  if (v === undefined) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return v > 0;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (s === 'high' || s === 'critical' || s === 'true' || s === '1') return true;
    if (s === 'low' || s === 'normal' || s === 'false' || s === '0' || s === '') return false;
  }
  throw invalid(field, `expected true/false, a number, or "high"/"normal", got ${JSON.stringify(v)}`);
}

/** A decimal number of milliseconds as text ("250", "12.5"): not hex, exponents or Infinity. */
const DECIMAL_MS = /^\s*\d+(\.\d+)?\s*$/;

function parseDeadline(v: unknown, field: string): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && DECIMAL_MS.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) throw invalid(field, `expected a positive number of milliseconds, got ${JSON.stringify(v)}`);
  return n;
}

/**
 * Reads an OIP v2 inference request far enough to route it: validates the input tensors
 * (400 naming the field), takes the size from the `size` parameter or else the first input's
 * batch dimension (the unit the Kairos profiles use), and the
 * class from `class` / `priority` / deadline hints in the parameters or x-mixscale-* headers.
 * The body itself is forwarded untouched, so nothing here re-serializes it.
 */
export function parseInfer(model: string, body: Buffer, headers: InferHeaders, classes: ClassTable, arrivalMs: Ms): ParsedInfer {
  if (!classes.hasModel(model)) throw new MixscaleError('MIXSCALE_REQUEST_INVALID', `unknown model "${model}"`, { model, status: 404 });
  // Binary tensor extension: a JSON header of this many bytes, then raw tensor data.
  const jsonLengthHeader = header(headers, 'inference-header-content-length');
  let jsonBytes = body;
  if (jsonLengthHeader !== undefined) {
    const n = Number(jsonLengthHeader);
    if (!Number.isInteger(n) || n < 0 || n > body.length) throw invalid('inference-header-content-length', `expected an integer between 0 and the body length ${body.length}, got ${JSON.stringify(jsonLengthHeader)}`);
    jsonBytes = body.subarray(0, n);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(jsonBytes.toString('utf8'));
  } catch (e) {
    throw invalid('body', `malformed JSON (${(e as Error).message})`);
  }
  if (!isRecord(doc)) throw invalid('body', 'expected a JSON object with "inputs"');
  const params = doc.parameters;
  if (params !== undefined && !isRecord(params)) throw invalid('parameters', 'expected an object');
  const inputs = doc.inputs;
  const sizeParam = params?.size;
  if (sizeParam !== undefined && !(typeof sizeParam === 'number' && Number.isInteger(sizeParam) && sizeParam > 0)) {
    throw invalid('parameters.size', `expected a positive integer, got ${JSON.stringify(sizeParam)}`);
  }
  // A bare {parameters: {size}} is enough to route (the emulated nodes accept it too).
  if (inputs === undefined && sizeParam !== undefined) {
    // nothing to check
  } else if (!Array.isArray(inputs) || inputs.length === 0) {
    throw invalid('inputs', 'expected a non-empty array of tensors (or parameters.size alone)');
  }
  const tensors: unknown[] = Array.isArray(inputs) ? inputs : [];

  let tensorBytes = 0;
  for (let i = 0; i < tensors.length; i++) {
    const t: unknown = tensors[i];
    if (!isRecord(t)) throw invalid(`inputs[${i}]`, 'expected a tensor object with name, shape, datatype');
    if (typeof t.name !== 'string' || t.name === '') throw invalid(`inputs[${i}].name`, 'expected a non-empty string');
    const shape = t.shape;
    if (!Array.isArray(shape)) throw invalid(`inputs[${i}].shape`, 'expected an array of non-negative integers');
    let elements = 1;
    for (let d = 0; d < shape.length; d++) {
      const dim: unknown = shape[d];
      if (typeof dim !== 'number' || !Number.isInteger(dim) || dim < 0) throw invalid(`inputs[${i}].shape[${d}]`, `expected a non-negative integer, got ${JSON.stringify(dim)}`);
      elements *= dim;
    }
    if (typeof t.datatype !== 'string' || DATATYPE_BYTES[t.datatype] === undefined) {
      throw invalid(`inputs[${i}].datatype`, `expected one of ${Object.keys(DATATYPE_BYTES).join(', ')}, got ${JSON.stringify(t.datatype)}`);
    }
    const data = t.data;
    if (data !== undefined && Array.isArray(data) && !Array.isArray(data[0]) && data.length !== elements) {
      throw invalid(`inputs[${i}].data`, `has ${data.length} elements but shape ${JSON.stringify(shape)} needs ${elements}`);
    }
    tensorBytes += elements * DATATYPE_BYTES[t.datatype]!;
  }

  // The size the nodes agree on (src/node/oip.ts): parameters.size, else the first input's
  // leading (batch) dimension.
  let size: number;
  if (sizeParam !== undefined) size = sizeParam;
  else {
    const lead = (tensors[0] as { shape: number[] }).shape[0] ?? 1;
    if (!(lead > 0)) throw invalid('inputs[0].shape', 'the leading dimension (the batch) must be > 0');
    size = lead;
  }

  // Each hint is checked wherever it is given, header and parameter alike (the header wins).
  const priorityParam = parsePriority(params?.priority, 'parameters.priority');
  const priorityHeader = parsePriority(header(headers, 'x-mixscale-priority'), 'x-mixscale-priority');
  const critical = priorityParam || priorityHeader;
  const deadlineParam = parseDeadline(params?.deadline_ms, 'parameters.deadline_ms');
  const deadline = parseDeadline(header(headers, 'x-mixscale-deadline-ms'), 'x-mixscale-deadline-ms') ?? deadlineParam;
  const namedParam = params?.class;
  if (namedParam !== undefined && typeof namedParam !== 'string') throw invalid('parameters.class', `expected a class name, got ${JSON.stringify(namedParam)}`);
  const namedHeader = header(headers, 'x-mixscale-class');
  const named = namedHeader ?? namedParam;
  const { index, cls } = classes.resolve(model, named, critical, deadline, namedHeader !== undefined ? 'x-mixscale-class' : 'parameters.class');

  return {
    req: {
      model,
      classIndex: index,
      size,
      arrivalMs,
      deadlineMs: arrivalMs + (deadline ?? cls.sloMs),
      critical,
    },
    className: cls.name,
    tensorBytes,
    clientDeadline: deadline !== undefined,
    sizeFromShape: sizeParam === undefined,
  };
}
