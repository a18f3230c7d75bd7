import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { buildUntrainedModel, UNTRAINED_MODEL_NAME, Embedder } from '../src/api.js';
import { UNTRAINED_MAP_MODEL_NAME } from '../src/models/default-model.js';
import { PACKAGE_MODELS_DIR, untrainedModelPath } from '../src/models/default-files.js';
import { tempDir, writeSolid } from './helpers.js';

test('the shipped untrained reference model is exactly what its builder makes (deterministic)', async () => {
  const { onnx, card } = buildUntrainedModel();
  const shipped = await fs.readFile(path.join(PACKAGE_MODELS_DIR, `${UNTRAINED_MODEL_NAME}.onnx`));
  assert.ok(Buffer.from(onnx).equals(shipped), 'models/ is out of date: rebuild it from buildUntrainedModel()');
  const shippedCard = JSON.parse(await fs.readFile(path.join(PACKAGE_MODELS_DIR, `${UNTRAINED_MODEL_NAME}.json`), 'utf8'));
  assert.deepEqual(shippedCard, JSON.parse(JSON.stringify(card)));
  assert.ok(Buffer.from(buildUntrainedModel().onnx).equals(Buffer.from(onnx)));
});

test('the untrained reference model embeds to 128-d unit vectors at any input size and tells colours apart', async (t) => {
  const dir = tempDir(t);
  const red = await writeSolid(path.join(dir, 'r.png'), [220, 30, 30], 200, 120);
  const red2 = await writeSolid(path.join(dir, 'r2.png'), [210, 40, 35], 90, 160);
  const blue = await writeSolid(path.join(dir, 'b.png'), [30, 40, 220], 200, 120);
  const embedder = await Embedder.load(path.join(PACKAGE_MODELS_DIR, `${UNTRAINED_MODEL_NAME}.onnx`), { workers: 0 });
  const { vectors } = await embedder.embedFiles([red, red2, blue], { scales: [0.5, 1] });
  await embedder.close();
  assert.equal(vectors.length, 3 * 128);
  const dot = (a: number, b: number) => vectors.subarray(a * 128, a * 128 + 128).reduce((s, v, j) => s + v * vectors[b * 128 + j]!, 0);
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(dot(i, i) - 1) < 1e-5);
  assert.ok(dot(0, 1) > dot(0, 2), `red·red ${dot(0, 1)} should exceed red·blue ${dot(0, 2)}`);
});

test('the feature-map backbone is the reference model without its pooling: GeM (p = 3) of its map is the 128-d descriptor', async (t) => {
  const { onnx } = buildUntrainedModel({ featureMap: true });
  const shipped = await fs.readFile(path.join(PACKAGE_MODELS_DIR, `${UNTRAINED_MAP_MODEL_NAME}.onnx`));
  assert.ok(Buffer.from(onnx).equals(shipped), 'models/ is out of date: rebuild the map model from buildUntrainedModel({ featureMap: true })');
  const dir = tempDir(t);
  const file = await writeSolid(path.join(dir, 'x.png'), [200, 60, 90], 160, 160);
  const mapModel = await Embedder.load(path.join(PACKAGE_MODELS_DIR, `${UNTRAINED_MAP_MODEL_NAME}.onnx`), { normalize: false, workers: 0 });
  const pooled = await Embedder.load(path.join(PACKAGE_MODELS_DIR, `${UNTRAINED_MODEL_NAME}.onnx`), { normalize: false, workers: 0 });
  try {
    const map = (await mapModel.embedFiles([file])).vectors;
    assert.deepEqual(mapModel.outputShape, [128, 20, 20]);
    const gem = (await pooled.embedFiles([file])).vectors;
    for (let c = 0; c < 128; c++) {
      let s = 0;
      for (let p = 0; p < 400; p++) s += Math.max(map[c * 400 + p]!, 1e-6) ** 3;
      const expected = (s / 400) ** (1 / 3);
      assert.ok(Math.abs(gem[c]! - expected) <= 1e-4 * Math.max(1, expected), `channel ${c}: ${gem[c]} vs ${expected}`);
    }
  } finally {
    await mapModel.close();
    await pooled.close();
  }
});

test('a model that cannot be written into a read-only package folder is built into the user cache instead', async (t) => {
  // /sys refuses new folders even to root, so it stands in for a read-only global install.
  if (!(await fs.access('/sys').then(() => true, () => false))) return t.skip('no /sys here');
  const cache = tempDir(t);
  const before = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = cache;
  try {
    const file = await untrainedModelPath('/sys/visid-read-only-models');
    assert.equal(file, path.join(cache, 'visid', 'models', `${UNTRAINED_MODEL_NAME}.onnx`));
    assert.ok(Buffer.from(buildUntrainedModel().onnx).equals(await fs.readFile(file)));
    // Found there the next time, without building.
    assert.equal(await untrainedModelPath('/sys/visid-read-only-models'), file);
  } finally {
    if (before === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = before;
  }
});
