import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { MixscaleError } from '../../core/errors.ts';
import { loadManifest, type LoadedManifest } from './manifest.ts';

/** What one stage returns: the exit's probabilities and, except for the last stage, the tensor the next stage reads. */
export interface StageOutput {
  readonly probs: Float32Array;
  readonly hidden: ort.Tensor | undefined;
}

export interface ModelOptions {
  /** onnxruntime intra-op threads per session (1: predictable per-stage times on a shared CPU). */
  readonly threads?: number;
}

/**
 * A staged multi-exit model in onnxruntime: one session per stage, checked against the
 * manifest at load time so a wrong file fails at startup with the stage and tensor named,
 * not on the first request.
 */
export class MultiExitModel {
  readonly manifest: LoadedManifest;
  private readonly sessions: readonly ort.InferenceSession[];

  private constructor(manifest: LoadedManifest, sessions: readonly ort.InferenceSession[]) {
    this.manifest = manifest;
    this.sessions = sessions;
  }

  static async load(dir: string, opts: ModelOptions = {}): Promise<MultiExitModel> {
    const manifest = loadManifest(dir);
    const threads = opts.threads ?? 1;
    const sessions: ort.InferenceSession[] = [];
    try {
      for (let i = 0; i < manifest.stages.length; i++) {
        const path = manifest.stagePaths[i]!;
        const bytes = checkedBytes(path, manifest.stages[i]!.sha256, i);
        const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' };
        let session: ort.InferenceSession;
        try {
          session = await (bytes !== undefined ? ort.InferenceSession.create(bytes, options) : ort.InferenceSession.create(path, options));
        } catch (e) {
          throw new MixscaleError('MIXSCALE_MODEL_INVALID', `${path}: onnxruntime cannot load stage ${i + 1}: ${firstLine(e)}`, { file: path, stage: i + 1 });
        }
        sessions.push(session);
        checkStage(manifest, i, session);
      }
      await dryRun(manifest, sessions);
    } catch (e) {
      await Promise.all(sessions.map((s) => s.release()));
      throw e;
    }
    return new MultiExitModel(manifest, sessions);
  }

  get stageCount(): number {
    return this.sessions.length;
  }

  get features(): number {
    return this.manifest.input.features;
  }

  get classes(): number {
    return this.manifest.classes;
  }

  /** The model input for `rows` samples laid out row-major. */
  inputTensor(data: Float32Array, rows: number): ort.Tensor {
    return new ort.Tensor('float32', data, [rows, this.features]);
  }

  /** Runs stage `index` (0-based) on its input tensor. */
  async runStage(index: number, input: ort.Tensor): Promise<StageOutput> {
    const stage = this.manifest.stages[index]!;
    const out = await this.sessions[index]!.run({ [stage.input]: input });
    const exit = out[stage.exit] as ort.Tensor;
    return { probs: exit.data as Float32Array, hidden: stage.hidden === undefined ? undefined : (out[stage.hidden] as ort.Tensor) };
  }

  async release(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.release()));
  }
}

function checkStage(m: LoadedManifest, i: number, session: ort.InferenceSession): void {
  const stage = m.stages[i]!;
  const file = m.stagePaths[i]!;
  const fail = (msg: string): never => {
    throw new MixscaleError('MIXSCALE_MODEL_INVALID', `${file}: stage ${i + 1} ${msg}`, { file, stage: i + 1 });
  };
  const input = session.inputMetadata.find((x) => x.name === stage.input);
  if (input === undefined) fail(`has no input "${stage.input}" (the manifest's stages[${i}].input); its inputs are ${session.inputNames.join(', ')}`);
  if (input !== undefined && input.isTensor) {
    const want = stage.inputShape;
    const got = input.shape;
    const fits = got.length === want.length && want.every((d, k) => d === -1 ? typeof got[k] === 'string' || got[k] === -1 : got[k] === d);
    if (!fits) fail(`input "${stage.input}" has shape [${got.join(',')}], the manifest expects [${want.map((d) => (d === -1 ? 'N' : d)).join(',')}]`);
    if (input.type !== 'float32') fail(`input "${stage.input}" is ${input.type}, expected float32`);
  }
  for (const name of [stage.exit, stage.hidden]) {
    if (name !== undefined && !session.outputNames.includes(name)) {
      fail(`has no output "${name}"; its outputs are ${session.outputNames.join(', ')}`);
    }
  }
  const exit = session.outputMetadata.find((x) => x.name === stage.exit);
  if (exit !== undefined && exit.isTensor && exit.shape.length === 2 && typeof exit.shape[1] === 'number' && exit.shape[1] !== m.classes) {
    fail(`exit "${stage.exit}" has ${exit.shape[1]} classes, the manifest says ${m.classes}`);
  }
}

/**
 * Runs one row through every stage and checks what the metadata cannot promise: each exit
 * gives [1, classes] float32 and each hidden output has the shape the next stage reads
 * (stages[i + 1].inputShape), so a stage that does not chain fails here, not at warm-up.
 */
async function dryRun(m: LoadedManifest, sessions: readonly ort.InferenceSession[]): Promise<void> {
  const shape = (dims: readonly number[]): string => `[${dims.join(',')}]`;
  let input: ort.Tensor = new ort.Tensor('float32', new Float32Array(m.input.features), [1, m.input.features]);
  for (let i = 0; i < sessions.length; i++) {
    const stage = m.stages[i]!;
    const fail = (msg: string): never => {
      throw new MixscaleError('MIXSCALE_MODEL_INVALID', `${m.stagePaths[i]!}: stage ${i + 1} ${msg}`, { file: m.stagePaths[i]!, stage: i + 1 });
    };
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await sessions[i]!.run({ [stage.input]: input });
    } catch (e) {
      return fail(`cannot run on input "${stage.input}" ${shape(input.dims)}${i > 0 ? ` (stage ${i}'s "${stage.input}")` : ''}: ${firstLine(e)}`);
    }
    const exit = out[stage.exit] as ort.Tensor;
    if (exit.type !== 'float32' || exit.dims.length !== 2 || exit.dims[0] !== 1 || exit.dims[1] !== m.classes) {
      fail(`exit "${stage.exit}" gives ${exit.type} ${shape(exit.dims)} for one row, expected float32 [1,${m.classes}] (the manifest's classes)`);
    }
    if (stage.hidden === undefined) break;
    const hidden = out[stage.hidden] as ort.Tensor;
    const want = m.stages[i + 1]!.inputShape;
    if (hidden.dims.length !== want.length || hidden.dims[0] !== 1 || want.some((d, k) => k > 0 && d !== -1 && hidden.dims[k] !== d)) {
      fail(`output "${stage.hidden}" has shape ${shape(hidden.dims)} for one row, stage ${i + 2} reads [${want.map((d) => (d === -1 ? 'N' : d)).join(',')}] (stages[${i + 1}].inputShape)`);
    }
    input = hidden;
  }
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}

/**
 * A stage file whose manifest gives its SHA-256 must be that file: another (or a damaged one) is
 * refused at load. Returns the bytes it read, for the session (the file is read once); undefined
 * when there is no digest to check, or the file cannot be read (onnxruntime then says why).
 */
function checkedBytes(path: string, want: string | undefined, i: number): Buffer | undefined {
  if (want === undefined) return undefined;
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    return undefined;
  }
  const got = createHash('sha256').update(bytes).digest('hex');
  if (got !== want) {
    throw new MixscaleError('MIXSCALE_MODEL_INVALID', `${path}: stage ${i + 1}'s SHA-256 is ${got}, the manifest's stages[${i}].sha256 says ${want}: a different or damaged file`, { file: path, stage: i + 1 });
  }
  return bytes;
}
