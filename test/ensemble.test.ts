// Ensembles: summed cosine similarities over galleries of the same items, unique-label ranking, weighted score fusion — against hand-computed rankings.
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Gallery } from '../src/index/gallery.js';
import { ensembleLabels, ensembleSearch, fuseScores } from '../src/search/ensemble.js';
import { assertClose, tempDir } from './helpers.js';

const unit = (deg: number) => [Math.cos((deg * Math.PI) / 180), Math.sin((deg * Math.PI) / 180)];

test('sum of cosines across two models, weighted, then top-5 unique labels', async (t) => {
  const dir = tempDir(t);
  const items = [
    { id: 'a1', label: 'A' }, { id: 'a2', label: 'A' }, { id: 'b1', label: 'B' }, { id: 'c1', label: 'C' },
  ];
  // Model 1 sees the query (at 0°) closest to b1; model 2 closest to a2. Items at these angles:
  const m1 = await Gallery.create(path.join(dir, 'm1'), { dim: 2, model: { id: 'm1' } });
  await m1.append(Float32Array.from([...unit(60), ...unit(40), ...unit(10), ...unit(90)]), items);
  // Model 2 stores the same items in another order (the ensemble aligns them by id).
  const m2 = await Gallery.create(path.join(dir, 'm2'), { dim: 2, model: { id: 'm2' } });
  await m2.append(Float32Array.from([...unit(80), ...unit(0), ...unit(70), ...unit(50)]), [items[2]!, items[1]!, items[3]!, items[0]!]);
  const q = Float32Array.from(unit(0));
  const cos = (d: number) => Math.cos((d * Math.PI) / 180);
  // Equal weights: a2 = cos40 + cos0 = 1.766, b1 = cos10 + cos80 = 1.158, a1 = cos60 + cos50 = 1.143, c1 = cos90 + cos70 = 0.342.
  const [hits] = await ensembleSearch([{ gallery: m1, queries: q }, { gallery: m2, queries: q }], 4);
  assert.deepEqual(hits!.map((h) => h.id), ['a2', 'b1', 'a1', 'c1']);
  assertClose([hits![0]!.score], [cos(40) + 1], 1e-5);
  // Weight 3:1: a2 = 3cos40 + 1 = 3.298, b1 = 3cos10 + cos80 = 3.128, a1 = 3cos60 + cos50 = 2.143, c1 = cos70 = 0.342.
  const [w31] = await ensembleSearch([{ gallery: m1, queries: q, weight: 3 }, { gallery: m2, queries: q, weight: 1 }], 4);
  assert.deepEqual(w31!.map((h) => h.id), ['a2', 'b1', 'a1', 'c1']);
  // Weight 1:0 is model 1 alone: b1 (10°), a2 (40°), a1 (60°), c1 (90°).
  const [only1] = await ensembleSearch([{ gallery: m1, queries: q, weight: 1 }, { gallery: m2, queries: q, weight: 0 }], 4);
  assert.deepEqual(only1!.map((h) => h.id), ['b1', 'a2', 'a1', 'c1']);
  const [labels] = await ensembleLabels([{ gallery: m1, queries: q }, { gallery: m2, queries: q }], 5);
  assert.deepEqual(labels!.map((l) => l.label), ['A', 'B', 'C']);
  // Excluding the query's own id (leave-one-out evaluation).
  const [noA2] = await ensembleSearch([{ gallery: m1, queries: q }, { gallery: m2, queries: q }], 2, { excludeIds: ['a2'] });
  assert.deepEqual(noA2!.map((h) => h.id), ['b1', 'a1']);

  const m3 = await Gallery.create(path.join(dir, 'm3'), { dim: 2, model: { id: 'm3' } });
  await m3.append(Float32Array.from([...unit(1), ...unit(2), ...unit(3), ...unit(4)]), [items[0]!, items[1]!, items[2]!, { id: 'zz', label: 'C' }]);
  await assert.rejects(ensembleSearch([{ gallery: m1, queries: q }, { gallery: m3, queries: q }], 2), /missing from an ensemble member/);
});

test('weighted score fusion (seed 002 Table 3: 2:1)', () => {
  const a = Float32Array.from([0.9, 0.1, 0.3, 0.6]);
  const b = Float32Array.from([0.3, 0.7, 0.6, 0.0]);
  assertClose(fuseScores([a, b], [2, 1]), [0.7, 0.3, 0.4, 0.4], 1e-6);
  assertClose(fuseScores([a, b]), [0.6, 0.4, 0.45, 0.3], 1e-6);
  assert.throws(() => fuseScores([a, b], [1]), /1 weights for 2 score sets/);
  assert.throws(() => fuseScores([a, Float32Array.from([1])]), /differ in size/);
});
