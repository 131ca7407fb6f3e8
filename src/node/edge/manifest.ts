import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { MixscaleError } from '../../core/errors.ts';
import { formatPath } from '../../config/load.ts';

/**
 * A multi-exit model is a folder: one ONNX file per stage and a `manifest.json` saying how the
 * stages chain and what each exit is worth. See models/digits-cnn/README.md for the format.
 */
const dim = z.number().int().refine((d) => d === -1 || d > 0, { message: 'must be -1 (dynamic) or a positive size' });

const manifestSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/i, { message: 'must be letters, digits, ., - or _' }),
  description: z.string().optional(),
  input: z.strictObject({ name: z.string().min(1), features: z.number().int().positive(), datatype: z.literal('FP32') }),
  classes: z.number().int().min(2),
  stages: z
    .array(
      z.strictObject({
        file: z.string().min(1),
        sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
        input: z.string().min(1),
        inputShape: z.array(dim).min(1),
        hidden: z.string().min(1).optional(),
        exit: z.string().min(1),
        flops: z.number().nonnegative().optional(),
        referenceLatencyMs: z.strictObject({ p50: z.number().positive(), p99: z.number().positive() }).optional(),
      }),
    )
    .min(1),
  exits: z
    .array(
      z.strictObject({
        exit: z.number().int().positive(),
        accuracy: z.number().min(0).max(1),
        testCorrect: z.number().int().nonnegative().optional(),
        flops: z.number().nonnegative().optional(),
        energy: z.number().nonnegative(),
      }),
    )
    .min(1),
  energy: z.strictObject({ unit: z.string().min(1), estimatedFrom: z.string().optional() }).optional(),
  testSet: z.strictObject({ file: z.string().min(1), rows: z.number().int().positive(), sha256: z.string().optional() }).optional(),
});

export type ModelManifest = z.infer<typeof manifestSchema>;
export type ExitSpec = ModelManifest['exits'][number];

/** A manifest that was checked, with the folder it came from. */
export interface LoadedManifest extends ModelManifest {
  readonly dir: string;
  /** Absolute path of each stage file, in stage order. */
  readonly stagePaths: readonly string[];
}

function invalid(where: string, message: string, details: Record<string, unknown> = {}): MixscaleError {
  return new MixscaleError('MIXSCALE_MODEL_INVALID', `${where}: ${message}`, { file: where, ...details });
}

/** Reads and checks `DIR/manifest.json`: schema, one exit per stage, stages that chain, files present. */
export function loadManifest(dir: string): LoadedManifest {
  const path = join(dir, 'manifest.json');
  if (!existsSync(dir)) throw invalid(dir, 'model folder not found (expected a folder with manifest.json and one ONNX file per stage)');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw invalid(path, code === 'ENOENT' ? 'not found (a model folder needs a manifest.json)' : code === 'EISDIR' ? 'is a folder, not a file' : (e as Error).message);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (e) {
    throw invalid(path, `not valid JSON: ${(e as Error).message}`);
  }
  const r = manifestSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw invalid(path, `${formatPath(issue.path)}: ${issue.message}`, { path: formatPath(issue.path) });
  }
  const m = r.data;
  if (m.exits.length !== m.stages.length) {
    throw invalid(path, `exits: ${m.exits.length} exits for ${m.stages.length} stages (every stage ends in one exit)`);
  }
  m.exits.forEach((e, i) => {
    if (e.exit !== i + 1) throw invalid(path, `exits[${i}].exit: expected ${i + 1} (exits are listed in stage order)`);
    // Energy is cumulative (the cost of stopping after stage i), so it cannot fall from one exit
    // to the next: the bounds take the last exit within max_energy as the cheapest way there.
    const prev = m.exits[i - 1];
    if (prev !== undefined && e.energy < prev.energy) {
      throw invalid(path, `exits[${i}].energy: ${e.energy} is below exits[${i - 1}].energy ${prev.energy} (energy is cumulative: each exit costs at least as much as the one before)`, { path: `exits[${i}].energy` });
    }
    // A later exit runs more of the model: the bounds take the first exit that reaches min_accuracy.
    if (prev !== undefined && e.accuracy < prev.accuracy) {
      throw invalid(path, `exits[${i}].accuracy: ${e.accuracy} is below exits[${i - 1}].accuracy ${prev.accuracy} (a later exit must be at least as accurate as the one before)`, { path: `exits[${i}].accuracy` });
    }
  });
  const first = m.stages[0]!;
  if (first.input !== m.input.name) throw invalid(path, `stages[0].input: "${first.input}" is not the model input "${m.input.name}"`);
  const perSample = first.inputShape.slice(1).reduce((a, d) => a * d, 1);
  if (perSample !== m.input.features) {
    throw invalid(path, `stages[0].inputShape: [${first.inputShape.join(',')}] holds ${perSample} values per sample, input.features says ${m.input.features}`);
  }
  for (let i = 0; i < m.stages.length; i++) {
    const s = m.stages[i]!;
    const next = m.stages[i + 1];
    if (next !== undefined && s.hidden !== next.input) {
      throw invalid(path, `stages[${i}].hidden: "${s.hidden ?? '(none)'}" must be what stages[${i + 1}] reads ("${next.input}")`);
    }
    if (next === undefined && s.hidden !== undefined) throw invalid(path, `stages[${i}].hidden: the last stage feeds no further stage`);
    if (s.inputShape[0] !== -1) throw invalid(path, `stages[${i}].inputShape[0]: the batch dimension must be -1 (dynamic)`);
  }
  const stagePaths = m.stages.map((s, i) => {
    // A stage file is the model folder's own: a path out of it would be another model's, or none.
    if (isAbsolute(s.file) || s.file.split(/[\\/]/).includes('..')) throw invalid(path, `stages[${i}].file: "${s.file}" is not a file name inside the model folder`, { stage: i + 1 });
    const p = join(dir, s.file);
    if (!existsSync(p)) throw invalid(path, `stages[${i}].file: ${p} not found`, { stage: i + 1 });
    return p;
  });
  return { ...m, dir, stagePaths };
}
