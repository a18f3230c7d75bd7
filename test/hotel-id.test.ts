// The Hotel-ID recipe end to end on a small real folder (Fashion-MNIST photos as hotels, red-occluded test images).
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { writeHotelIdFashionDemo } from '../src/jobs/hotel-id/demo.js';
import { runHotelId } from '../src/jobs/hotel-id/recipe.js';
import { tempDir } from './helpers.js';

test('hotel-id recipe: submission with five unique hotels per test image, MAP@5 above the untrained network, report', async (t) => {
  const dir = tempDir(t);
  const root = path.join(dir, 'kaggle');
  const made = await writeHotelIdFashionDemo(root, { perHotel: 40, testPerHotel: 3, masks: 5 });
  assert.deepEqual(made, { hotels: 10, train: 400, test: 30 });
  // The demo's Fashion-MNIST images with the Fashion-MNIST model (the recipe's default is the photo model), seed 1,
  // the recipe's 6 feature views. Measured (identical over repeated runs): trained 0.8883, untrained 0.8104, backbone
  // alone 0.8383, so the bound below (0.8604) sits 3 % under the figure. With 3 views the trained figure was 0.8717,
  // 1.3 % over the same bound: one validation query's worth (40 of them).
  const r = await runHotelId({ root, out: path.join(dir, 'out'), backbone: 'fashion-mnist', epochs: 8, views: 6, seed: 1, quiet: true });
  t.diagnostic(`MAP@5 trained ${r.mapAt5.toFixed(4)}, untrained ${r.untrainedMapAt5.toFixed(4)}, backbone alone ${r.baselineMapAt5.toFixed(4)}`);
  assert.ok(r.mapAt5 > r.untrainedMapAt5 + 0.05, `trained ${r.mapAt5} vs untrained ${r.untrainedMapAt5}`);
  const lines = (await fs.readFile(r.submission, 'utf8')).trim().split('\n');
  assert.equal(lines[0], 'image_id,hotel_id');
  assert.equal(lines.length, 31);
  const truth = new Map((await fs.readFile(path.join(root, 'test_truth.csv'), 'utf8')).trim().split('\n').slice(1).map((l) => l.split(',') as [string, string]));
  let hits = 0;
  for (const line of lines.slice(1)) {
    const [image, hotels] = line.split(',');
    const ids = hotels!.split(' ');
    assert.equal(ids.length, 5, line);
    assert.equal(new Set(ids).size, 5, `unique hotels: ${line}`);
    assert.ok(ids.every((h) => /^10\d\d$/.test(h)));
    if (ids.includes(truth.get(image!)!)) hits++;
  }
  t.diagnostic(`true hotel in the top 5 for ${hits}/30`);
  assert.ok(hits >= 24, `the true hotel is in the top 5 for ${hits}/30 occluded test images`);
  assert.equal(r.table3.length, 4);
  const html = await fs.readFile(r.report, 'utf8');
  assert.match(html, /aria-label="Recall@k of the true hotel/);
  assert.equal((html.match(/<img /g) ?? []).length, 12 * 6);
});
