import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MixscaleError } from '../../../src/core/errors.ts';
import { MultiExitModel } from '../../../src/node/edge/model.ts';

const MODEL_DIR = fileURLToPath(new URL('../../../models/digits-cnn', import.meta.url));
const manifest = (): Record<string, unknown> & { stages: Array<Record<string, unknown>> } => JSON.parse(readFileSync(join(MODEL_DIR, 'manifest.json'), 'utf8'));

/** A copy of the shipped model folder with the manifest changed by `edit`. */
function modelCopy(edit: (m: ReturnType<typeof manifest>) => void, files = ['stage1.onnx', 'stage2.onnx', 'stage3.onnx']): string {
  const dir = mkdtempSync(join(tmpdir(), 'mixscale-model-'));
  for (const f of files) copyFileSync(join(MODEL_DIR, f), join(dir, f));
  const m = manifest();
  edit(m);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
  return dir;
}

async function loadFails(dir: string, text: RegExp): Promise<void> {
  try {
    await assert.rejects(MultiExitModel.load(dir), (e: unknown) => e instanceof MixscaleError && e.code === 'MIXSCALE_MODEL_INVALID' && e.userFault && text.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('multi-exit model loading', () => {
  it('loads the shipped digits CNN: three stages, 64 features, 10 classes', async () => {
    const m = await MultiExitModel.load(MODEL_DIR);
    try {
      assert.equal(m.stageCount, 3);
      assert.equal(m.features, 64);
      assert.equal(m.classes, 10);
    } finally {
      await m.release();
    }
  });

  it('names the folder when it does not exist', async () => {
    await loadFails(join(tmpdir(), 'mixscale-no-such-model'), /mixscale-no-such-model: model folder not found/);
  });

  it('names the manifest when the folder has none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-model-'));
    await loadFails(dir, /manifest\.json: not found/);
  });

  it('says so when manifest.json is a folder, and refuses a stage file outside the model folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-model-'));
    mkdirSync(join(dir, 'manifest.json'));
    await loadFails(dir, /manifest\.json: is a folder, not a file$/);
    for (const file of ['/etc/passwd', '../stage1.onnx']) {
      await loadFails(
        modelCopy((m) => {
          (m.stages as Array<Record<string, unknown>>)[0]!.file = file;
        }),
        new RegExp(`manifest\\.json: stages\\[0\\]\\.file: "${file.replace(/\./g, '\\.')}" is not a file name inside the model folder`),
      );
    }
  });

  it('names the stage whose file is missing', async () => {
    await loadFails(modelCopy(() => {}, ['stage1.onnx', 'stage2.onnx']), /stages\[2\]\.file: .*stage3\.onnx not found/);
  });

  it('names the stage, tensor and both shapes when a stage file does not take the input the manifest says', async () => {
    // stage 2 put in stage 1's place: it reads hidden1 [N,80,32,32], not input [N,64].
    await loadFails(
      modelCopy((m) => {
        m.stages[0]!.file = 'stage2.onnx';
        m.stages[0]!.sha256 = m.stages[1]!.sha256;
        m.stages[0]!.input = 'input';
      }),
      /stage2\.onnx: stage 1 has no input "input".*hidden1/,
    );
  });

  it('reports a declared input shape that differs from the file', async () => {
    await loadFails(
      modelCopy((m) => {
        m.stages[1]!.inputShape = [-1, 64, 32, 32];
      }),
      /stage2\.onnx: stage 2 input "hidden1" has shape \[N,80,32,32\], the manifest expects \[N,64,32,32\]/,
    );
  });

  it('reports stages that do not chain', async () => {
    await loadFails(
      modelCopy((m) => {
        m.stages[0]!.hidden = 'features';
      }),
      /stages\[0\]\.hidden: "features" must be what stages\[1\] reads \("hidden1"\)/,
    );
  });

  it('names the stage and tensor when an exit is not [N, classes] (a hidden tensor named as the exit)', async () => {
    await loadFails(
      modelCopy((m) => {
        m.stages[0]!.exit = 'hidden1';
      }),
      /stage1\.onnx: stage 1 exit "hidden1" gives float32 \[1,80,32,32\] for one row, expected float32 \[1,10\]/,
    );
  });

  it('names the stage and tensor when a stage\'s output is not the shape the next stage reads', async () => {
    // A stand-in stage 1: hidden1 = Identity(input) [N,64], exit1 = Softmax(input[:, 0:10]) [N,10]; stage 2 reads [N,80,32,32].
    const flat = 'CAdCBAoAEA067gEKGgoFaW5wdXQSB2hpZGRlbjEiCElkZW50aXR5Ch4KBWlucHV0CgJzdAoCZW4KAmF4EgJzbCIFU2xpY2UKIQoCc2wSBWV4aXQxIgdTb2Z0bWF4KgsKBGF4aXMYAaABAhIBZyoSCAEQB0ICc3RKCAAAAAAAAAAAKhIIARAHQgJlbkoICgAAAAAAAAAqEggBEAdCAmF4SggBAAAAAAAAAFoYCgVpbnB1dBIPCg0IARIJCgMSAU4KAghAYhoKB2hpZGRlbjESDwoNCAESCQoDEgFOCgIIQGIYCgVleGl0MRIPCg0IARIJCgMSAU4KAggK';
    const dir = modelCopy((m) => {
      m.stages[0]!.file = 'flat.onnx';
      delete m.stages[0]!.sha256;
    }, ['stage2.onnx', 'stage3.onnx']);
    writeFileSync(join(dir, 'flat.onnx'), Buffer.from(flat, 'base64'));
    await loadFails(dir, /flat\.onnx: stage 1 output "hidden1" has shape \[1,64\] for one row, stage 2 reads \[N,80,32,32\] \(stages\[1\]\.inputShape\)$/);
  });

  it('reports a file that is not an ONNX model', async () => {
    const dir = modelCopy((m) => delete m.stages[2]!.sha256);
    writeFileSync(join(dir, 'stage3.onnx'), 'not a model');
    await loadFails(dir, /stage3\.onnx: onnxruntime cannot load stage 3/);
  });

  it("refuses a stage file whose SHA-256 is not the manifest's (a different or damaged file)", async () => {
    const dir = modelCopy(() => {});
    copyFileSync(join(MODEL_DIR, 'stage2.onnx'), join(dir, 'stage3.onnx'));
    const want = manifest().stages[2]!.sha256 as string;
    await loadFails(dir, new RegExp(`stage3\\.onnx: stage 3's SHA-256 is [0-9a-f]{64}, the manifest's stages\\[2\\]\\.sha256 says ${want}: a different or damaged file$`));
  });

  it('refuses exit energies that decrease, naming the exit (energy is cumulative)', async () => {
    await loadFails(
      modelCopy((m) => {
        (m.exits as Array<Record<string, unknown>>)[1]!.energy = 100;
      }),
      /manifest\.json: exits\[2\]\.energy: 64\.44 is below exits\[1\]\.energy 100 \(energy is cumulative/,
    );
  });

  it('refuses exit accuracies that decrease, naming the exit (min_accuracy takes the first exit that reaches it)', async () => {
    await loadFails(
      modelCopy((m) => {
        (m.exits as Array<Record<string, unknown>>)[2]!.accuracy = 0.8;
      }),
      /manifest\.json: exits\[2\]\.accuracy: 0\.8 is below exits\[1\]\.accuracy 0\.98\d* \(a later exit must be at least as accurate/,
    );
  });

  it('reports manifest schema mistakes with the field path', async () => {
    await loadFails(
      modelCopy((m) => {
        (m.exits as Array<Record<string, unknown>>)[1]!.accuracy = 1.2;
      }),
      /manifest\.json: exits\[1\]\.accuracy/,
    );
  });
});
