import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MultiExitModel } from '../../../src/node/edge/model.ts';

const MODEL_DIR = fileURLToPath(new URL('../../../models/digits-cnn', import.meta.url));

/** The shipped test split: labels and raw 0..16 pixels. */
function testSet(file: string): { labels: number[]; pixels: Float32Array } {
  const lines = readFileSync(file, 'utf8').trim().split('\n').slice(1);
  const labels: number[] = [];
  const pixels = new Float32Array(lines.length * 64);
  lines.forEach((line, r) => {
    const f = line.split(',').map(Number);
    labels.push(f[0]!);
    pixels.set(f.slice(1), r * 64);
  });
  return { labels, pixels };
}

const SHARED_JSON = fileURLToPath(new URL('../../../../shared/models/digits-cnn-multi-exit.json', import.meta.url));

describe('digits-cnn accuracy on the shipped test set', function () {
  this.timeout(120_000);

  it('ships the stage files and test set whose checksums the manifest records', async () => {
    const model = await MultiExitModel.load(MODEL_DIR);
    try {
      const m = model.manifest;
      m.stages.forEach((s, i) => assert.equal(sha256(model.manifest.stagePaths[i]!), s.sha256, s.file));
      assert.equal(sha256(`${MODEL_DIR}/${m.testSet!.file}`), m.testSet!.sha256);
    } finally {
      await model.release();
    }
  });

  it('records the same per-exit accuracy and FLOPs as the source model JSON (when the shared folder is present)', async function () {
    if (!existsSync(SHARED_JSON)) this.skip();
    const src = JSON.parse(readFileSync(SHARED_JSON, 'utf8')) as { exits: Array<{ test_accuracy: number; test_correct: number; flops: number }> };
    const m = JSON.parse(readFileSync(`${MODEL_DIR}/manifest.json`, 'utf8')) as { exits: Array<{ accuracy: number; testCorrect: number; flops: number }> };
    assert.deepEqual(m.exits.map((e) => [e.accuracy, e.testCorrect, e.flops]), src.exits.map((e) => [e.test_accuracy, e.test_correct, e.flops]));
  });

  it('each exit gets exactly the recorded number of the 540 test samples right', async () => {
    const model = await MultiExitModel.load(MODEL_DIR);
    try {
      const m = model.manifest;
      const { labels, pixels } = testSet(`${MODEL_DIR}/${m.testSet!.file}`);
      assert.equal(labels.length, m.testSet!.rows);
      const correct = new Array<number>(model.stageCount).fill(0);
      const chunk = 60;
      for (let from = 0; from < labels.length; from += chunk) {
        const rows = Math.min(chunk, labels.length - from);
        let t = model.inputTensor(pixels.subarray(from * 64, (from + rows) * 64), rows);
        for (let s = 0; s < model.stageCount; s++) {
          const out = await model.runStage(s, t);
          for (let r = 0; r < rows; r++) {
            const row = out.probs.subarray(r * 10, r * 10 + 10);
            if (row.indexOf(Math.max(...row)) === labels[from + r]) correct[s]!++;
          }
          if (out.hidden !== undefined) t = out.hidden;
        }
      }
      assert.deepEqual(correct, m.exits.map((e) => e.testCorrect));
      assert.deepEqual(correct.map((c) => Math.round((c / labels.length) * 1e4) / 1e4), m.exits.map((e) => e.accuracy));
    } finally {
      await model.release();
    }
  });
});

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}
