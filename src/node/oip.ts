import { MixscaleError } from '../core/errors.ts';
import { DATATYPE_BYTES } from '../routing/request.ts';

/**
 * The Open Inference Protocol v2 (KServe, Triton) as our nodes read it. A request is
 * `{ id?, parameters?, inputs: [{ name, shape, datatype, data, parameters? }], outputs? }`;
 * errors are `{ "error": "..." }` with a 4xx/5xx status.
 */
export interface OipTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly datatype: string;
  readonly data: readonly unknown[];
}

/** An output the client asks for: `{ name, parameters? }`. */
export interface OipRequestedOutput {
  readonly name: string;
  readonly parameters?: Readonly<Record<string, unknown>>;
}

export interface OipInferRequest {
  readonly id?: string;
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly inputs: readonly OipTensor[];
  /** The outputs asked for, in the order asked; absent (or empty in the request): all of them. */
  readonly outputs?: readonly OipRequestedOutput[];
}

export interface OipInferResponse {
  readonly model_name: string;
  readonly id?: string;
  readonly parameters?: Readonly<Record<string, unknown>>;
  readonly outputs: ReadonlyArray<{ name: string; shape: readonly number[]; datatype: string; data: ArrayLike<number> | readonly number[] }>;
}

/** The tensor datatypes of the Open Inference Protocol v2: the router's list, so both accept the same. */
const DATATYPES: ReadonlySet<string> = new Set(Object.keys(DATATYPE_BYTES));

/**
 * The values each numeric datatype holds: integers within their width (64-bit ones within
 * what a JSON number carries exactly), floats finite and within their largest finite value.
 */
const RANGES: Readonly<Record<string, { readonly integer: boolean; readonly min: number; readonly max: number }>> = {
  UINT8: { integer: true, min: 0, max: 255 },
  UINT16: { integer: true, min: 0, max: 65_535 },
  UINT32: { integer: true, min: 0, max: 4_294_967_295 },
  UINT64: { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER },
  INT8: { integer: true, min: -128, max: 127 },
  INT16: { integer: true, min: -32_768, max: 32_767 },
  INT32: { integer: true, min: -2_147_483_648, max: 2_147_483_647 },
  INT64: { integer: true, min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER },
  FP16: { integer: false, min: -65_504, max: 65_504 },
  BF16: { integer: false, min: -3.3895313892515355e38, max: 3.3895313892515355e38 },
  FP32: { integer: false, min: -3.4028234663852886e38, max: 3.4028234663852886e38 },
  FP64: { integer: false, min: -Number.MAX_VALUE, max: Number.MAX_VALUE },
};

function bad(field: string, message: string): MixscaleError {
  return new MixscaleError('MIXSCALE_REQUEST_INVALID', `${field}: ${message}`, { field });
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Checks the request's shape (not its meaning: each node checks names and sizes it needs).
 * `requireInputs` is false for nodes that only need the size, so a bare `{parameters:{size}}` works.
 */
export function parseInferRequest(body: unknown, requireInputs = true): OipInferRequest {
  if (!isRecord(body)) throw bad('body', `expected a JSON object (an OIP v2 inference request), got ${Array.isArray(body) ? 'a list' : body === undefined ? 'nothing' : JSON.stringify(body)}`);
  const { id, parameters, inputs } = body;
  if (id !== undefined && typeof id !== 'string') throw bad('id', `expected a string, got ${JSON.stringify(id)}`);
  if (parameters !== undefined && !isRecord(parameters)) throw bad('parameters', 'expected an object');
  const outputs = parseRequestedOutputs(body.outputs);
  const common = { ...(id !== undefined ? { id } : {}), parameters: parameters ?? {}, ...(outputs !== undefined ? { outputs } : {}) };
  if (inputs === undefined && !requireInputs) return { ...common, inputs: [] };
  if (!Array.isArray(inputs) || inputs.length === 0) throw bad('inputs', inputs === undefined ? 'missing (expected a list of input tensors)' : 'expected a non-empty list of tensors');
  const names = new Map<string, number>();
  const tensors = inputs.map((t: unknown, i): OipTensor => {
    const at = `inputs[${i}]`;
    if (!isRecord(t)) throw bad(at, 'expected a tensor object');
    if (typeof t.name !== 'string') throw bad(`${at}.name`, t.name === undefined ? 'missing' : `expected a string, got ${JSON.stringify(t.name)}`);
    if (t.name === '') throw bad(`${at}.name`, 'empty (name the input tensor)');
    const twice = names.get(t.name);
    if (twice !== undefined) throw bad(`${at}.name`, `"${t.name}" is already the name of inputs[${twice}]`);
    names.set(t.name, i);
    if (t.datatype === undefined) throw bad(`${at}.datatype`, 'missing (e.g. "FP32")');
    if (typeof t.datatype !== 'string' || !DATATYPES.has(t.datatype)) throw bad(`${at}.datatype`, `expected one of ${[...DATATYPES].join(', ')}, got ${JSON.stringify(t.datatype)}`);
    if (!Array.isArray(t.shape) || t.shape.some((d) => !Number.isInteger(d) || (d as number) < 0)) {
      throw bad(`${at}.shape`, 'expected a list of non-negative integers');
    }
    if (t.shape.length > MAX_DIMS) throw bad(`${at}.shape`, `${t.shape.length} dimensions; at most ${MAX_DIMS}`);
    if (!Array.isArray(t.data)) throw bad(`${at}.data`, 'missing (expected the tensor contents as a list)');
    const shape = t.shape as number[];
    const { data, nested } = tensorValues(t.data as unknown[], shape, `${at}.data`);
    // The values must be of the datatype's kind: booleans, strings (BYTES) or numbers.
    const kind = t.datatype === 'BOOL' ? 'boolean' : t.datatype === 'BYTES' ? 'string' : 'number';
    const range = RANGES[t.datatype];
    for (let j = 0; j < data.length; j++) {
      const v = data[j];
      if (typeof v !== kind) throw bad(`${at}.data${valueIndex(j, shape, nested)}`, `expected a ${kind} for ${t.datatype}, got ${JSON.stringify(v)}`);
      if (range !== undefined && (!(v as number >= range.min && (v as number) <= range.max) || (range.integer && !Number.isInteger(v)))) {
        const holds = range.integer ? `an integer from ${range.min} to ${range.max}` : `a finite value within ±${range.max}`;
        throw bad(`${at}.data${valueIndex(j, shape, nested)}`, `expected ${holds} for ${t.datatype}, got ${JSON.stringify(v)}`);
      }
    }
    return { name: t.name, shape, datatype: t.datatype, data };
  });
  return { ...common, inputs: tensors };
}

/**
 * The request's `outputs`: a list of `{ name, parameters? }`, each name once. Absent or empty
 * means all outputs (OIP's default). Output parameters are ignored, so the answer is always JSON
 * (tritonclient's default `binary_data: true` reads JSON data as well), except Triton's
 * classification extension, which is refused: the answer would be the raw tensor.
 */
function parseRequestedOutputs(outputs: unknown): OipRequestedOutput[] | undefined {
  if (outputs === undefined) return undefined;
  if (!Array.isArray(outputs)) throw bad('outputs', `expected a list of requested outputs ([{"name": ...}]), got ${JSON.stringify(outputs)}`);
  if (outputs.length === 0) return undefined;
  const seen = new Map<string, number>();
  return outputs.map((o: unknown, i): OipRequestedOutput => {
    const at = `outputs[${i}]`;
    if (!isRecord(o)) throw bad(at, `expected an object {"name": ...}, got ${JSON.stringify(o)}`);
    if (typeof o.name !== 'string') throw bad(`${at}.name`, o.name === undefined ? 'missing' : `expected a string, got ${JSON.stringify(o.name)}`);
    const twice = seen.get(o.name);
    if (twice !== undefined) throw bad(`${at}.name`, `"${o.name}" is already requested by outputs[${twice}]`);
    seen.set(o.name, i);
    if (o.parameters === undefined) return { name: o.name };
    if (!isRecord(o.parameters)) throw bad(`${at}.parameters`, 'expected an object');
    if (o.parameters.classification !== undefined) throw bad(`${at}.parameters.classification`, 'the classification extension is not supported by this node; ask for the output tensor');
    return { name: o.name, parameters: o.parameters };
  });
}

/**
 * Checks the requested outputs against the node's output names (400 naming `outputs[i].name`
 * for one it does not have), before any work is done.
 */
export function checkRequestedOutputs(req: OipInferRequest, model: string, available: readonly string[]): void {
  req.outputs?.forEach((o, i) => {
    if (!available.includes(o.name)) {
      throw bad(`outputs[${i}].name`, `${JSON.stringify(o.name)} is not an output of ${model} (its outputs: ${available.length > 0 ? available.join(', ') : 'none declared'})`);
    }
  });
}

/** The answer with only the requested outputs, in the order requested (all of them when none are). */
export function selectOutputs(answer: OipInferResponse, req: OipInferRequest): OipInferResponse {
  if (req.outputs === undefined) return answer;
  const byName = new Map(answer.outputs.map((o) => [o.name, o]));
  return { ...answer, outputs: req.outputs.flatMap((o) => byName.get(o.name) ?? []) };
}

/** Most dimensions a tensor may have (nested data is walked one call per dimension). */
const MAX_DIMS = 64;

/**
 * A tensor's values in row-major order. OIP takes them flat (a list of shape's product values)
 * or nested as the shape is (a list of shape[0] lists of shape[1] ... values): nested data must
 * match the shape at every level, so a ragged `[[1],[2,3,4]]` for [2,2] is refused, naming the
 * list at fault. Walking the shape bounds the depth, however deep the JSON is nested.
 */
function tensorValues(data: unknown[], shape: readonly number[], at: string): { data: unknown[]; nested: boolean } {
  const dims = `[${shape.join(',')}]`;
  if (!data.some(Array.isArray)) {
    const want = shape.reduce((a, d) => a * d, 1);
    if (data.length !== want) throw bad(at, `has ${data.length} values, shape ${dims} needs ${want}`);
    return { data, nested: false };
  }
  if (shape.length === 0) throw bad(at, 'expected 1 value for shape [] (a scalar), got a nested list');
  const out: unknown[] = [];
  const walk = (list: unknown[], level: number, path: string): void => {
    const d = shape[level]!;
    if (list.length !== d) throw bad(path, `has ${list.length} ${list.length === 1 ? 'entry' : 'entries'}, dimension ${level} of shape ${dims} is ${d}`);
    const last = level === shape.length - 1;
    for (let k = 0; k < list.length; k++) {
      const v = list[k];
      if (last) {
        if (Array.isArray(v)) throw bad(`${path}[${k}]`, `expected a value, got a list (shape ${dims} has ${shape.length} dimension${shape.length === 1 ? '' : 's'})`);
        out.push(v);
      } else {
        if (!Array.isArray(v)) throw bad(`${path}[${k}]`, `expected a list of ${shape[level + 1]} (dimension ${level + 1} of shape ${dims}), got ${JSON.stringify(v)}`);
        walk(v, level + 1, `${path}[${k}]`);
      }
    }
  };
  walk(data, 0, at);
  return { data: out, nested: true };
}

/** Where the j-th value (row-major) sits in the request's data: `[j]` when flat, `[a][b]...` when nested. */
function valueIndex(j: number, shape: readonly number[], nested: boolean): string {
  if (!nested) return `[${j}]`;
  const idx: number[] = [];
  for (let level = shape.length - 1; level >= 0; level--) {
    const d = shape[level]!;
    idx.unshift(j % d);
    j = Math.floor(j / d);
  }
  return idx.map((i) => `[${i}]`).join('');
}

/** The request size nodes and the router agree on: `parameters.size`, else the first input's leading dimension. */
export function requestSize(req: OipInferRequest): number {
  const s = req.parameters.size;
  if (s !== undefined) {
    if (typeof s !== 'number' || !Number.isInteger(s) || s <= 0) throw bad('parameters.size', `expected a positive integer, got ${JSON.stringify(s)}`);
    return s;
  }
  const first = req.inputs[0];
  if (first === undefined) throw bad('inputs', 'missing: send input tensors or parameters.size');
  const n = first.shape[0] ?? 1;
  if (n <= 0) throw bad('inputs[0].shape', 'the leading dimension (the batch) must be > 0');
  return n;
}
