// Geo-localization (seed 001): UTM against published points, CosPlace file names and grouping, Recall@N with 25 m positives, locations, NIF/SIF, re-ranking, darkening, training, the recipe.
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { latLonToUtm, utmToLatLon, utmZoneNumber, latitudeBand, parseUtmZone } from '../src/data/utm.js';
import { parseGeoFileName, geoFileName } from '../src/data/geo-names.js';
import { readFolderDataset } from '../src/data/folder.js';
import { geoRecalls, predictLocation, localizationGeoJson, type LocatedItem } from '../src/eval/geo-localization.js';
import { nearestIndicesFirst, sharedIndicesFirst } from '../src/search/prediction-fusion.js';
import { alphaQueryExpansion, databaseSideAugmentation } from '../src/search/query-expansion.js';
import { localDescriptors, mutualNearestNeighbours, rerankByLocalMatches } from '../src/search/local-rerank.js';
import { cosplaceClasses, trainCosPlaceHead } from '../src/jobs/geo/cosplace.js';
import { Embedder } from '../src/models/embedder.js';
import { initTf, tf } from '../src/tf/runtime.js';
import { mulberry32 } from '../src/util/random.js';
import { expectedColourDescriptor, tempDir, writeChannelMeanModel, writeSolid } from './helpers.js';

const close = (a: number, b: number, tol: number, msg = '') => assert.ok(Math.abs(a - b) <= tol, `${msg} ${a} vs ${b}`);

test('UTM against published reference points, the zone exceptions and the band letters; round trips', () => {
  // Wikipedia's UTM example: the CN Tower, 43°38′33.24″N 79°23′13.7″W → 17T 630084 m E 4833438 m N.
  const cn = latLonToUtm(43.642567, -79.387139);
  assert.deepEqual([cn.zoneNumber, cn.zoneLetter], [17, 'T']);
  close(cn.east, 630084, 1, 'CN Tower east');
  close(cn.north, 4833438, 1, 'CN Tower north');
  // On a central meridian the easting is 500 km and the northing k0 · (meridian arc): WGS84's arc to 45° is 4,984,944.378 m.
  const m45 = latLonToUtm(45, -75);
  close(m45.east, 500000, 1e-6);
  close(m45.north, 0.9996 * 4984944.378, 0.01, 'northing at 45°');
  close(latLonToUtm(0, 3).north, 0, 1e-6, 'equator');
  // Southern hemisphere: false northing of 10,000 km.
  close(latLonToUtm(-45, -75).north, 10_000_000 - 0.9996 * 4984944.378, 0.01, 'southern northing');
  // Zone exceptions: southern Norway is 32V, Svalbard's 33X; band letters.
  assert.equal(utmZoneNumber(60.39, 5.32), 32);
  assert.equal(utmZoneNumber(78.2, 15.6), 33);
  assert.equal(utmZoneNumber(78.2, 8.9), 31);
  assert.equal(latitudeBand(-80), 'C');
  assert.equal(latitudeBand(0), 'N');
  assert.equal(latitudeBand(-0.1), 'M');
  assert.equal(latitudeBand(84), 'X');
  assert.throws(() => latitudeBand(85), /outside UTM's range/);
  for (const [lat, lon] of [[37.7749, -122.4194], [-33.8568, 151.2153], [35.6595, 139.7005]] as const) {
    const u = latLonToUtm(lat, lon);
    const back = utmToLatLon(u.east, u.north, u.zoneNumber, u.zoneLetter);
    close(back.lat, lat, 1e-7, 'lat round trip');
    close(back.lon, lon, 1e-7, 'lon round trip');
  }
  assert.deepEqual(parseUtmZone('10s'), { zoneNumber: 10, zoneLetter: 'S' });
  assert.throws(() => parseUtmZone('61A'), /not a UTM zone/);
  assert.throws(() => latLonToUtm(91, 0), /not a latitude/);
});

test('CosPlace file names: coordinates and heading parsed, written back, errors name the file; folders carry them', async (t) => {
  const name = '@0549936.53@4178358.54@10@S@037.75075@-122.43223@abcDEF@00@090@@@@201311@@.jpg';
  assert.deepEqual(parseGeoFileName(`/data/sf_xs/database/${name}`), { utmEast: 549936.53, utmNorth: 4178358.54, utmZone: '10S', lat: 37.75075, lon: -122.43223, heading: 90 });
  assert.equal(parseGeoFileName('photo.jpg'), undefined);
  assert.throws(() => parseGeoFileName('@abc@4178358@10@S@37.7@-122.4@.jpg'), /field 1 \(UTM east\) is 'abc'/);
  assert.throws(() => parseGeoFileName('@549936@4178358@10@I@37.7@-122.4@.jpg'), /zone letter/);
  const g = parseGeoFileName(geoFileName({ utmEast: 1.5, utmNorth: 2.25, utmZone: '33X', lat: 78.2, lon: 15.6, heading: 270 }, '.png', 'note'))!;
  assert.deepEqual([g.utmEast, g.utmNorth, g.utmZone, g.lat, g.lon, g.heading], [1.5, 2.25, '33X', 78.2, 15.6, 270]);

  const dir = tempDir(t);
  await writeSolid(path.join(dir, 'database', name), [10, 20, 30]);
  await writeSolid(path.join(dir, 'database', 'plain.jpg'), [10, 20, 30]);
  const ds = await readFolderDataset(path.join(dir, 'database'));
  const item = ds.items.find((it) => it.id === name)!;
  assert.deepEqual([item.lat, item.lon, item.utmEast, item.heading, item.utmZone], [37.75075, -122.43223, 549936.53, 90, '10S']);
  assert.equal(ds.items.find((it) => it.id === 'plain.jpg')!.lat, undefined);
});

// Hand-made map in metres (UTM): database points and queries.
const DB: LocatedItem[] = [
  { id: 'a', utmEast: 0, utmNorth: 0 },
  { id: 'b', utmEast: 100, utmNorth: 0 },
  { id: 'c', utmEast: 0, utmNorth: 100 },
  { id: 'd', utmEast: 20, utmNorth: 15 }, // 25 m from a: on the radius, a positive of q1
];

test('Recall@N with positives within 25 m: a query without any positive is a miss; the radius is inclusive', () => {
  const queries = [
    { utmEast: 0, utmNorth: 0 }, // positives a (0 m), d (25 m)
    { utmEast: 100, utmNorth: 10 }, // positive b (10 m)
    { utmEast: 500, utmNorth: 500 }, // no positive anywhere
    { utmEast: 0, utmNorth: 120 }, // positive c (20 m)
  ];
  const ranked = [['b', 'd', 'a'], ['b', 'a', 'c'], ['a', 'b', 'c'], ['a', 'b', 'd']];
  const { recalls, withoutPositive } = geoRecalls(ranked, queries, DB, [1, 2, 3], 25);
  // R@1: only q2 (b) → 1/4. R@2: q1 (d at 2) and q2 → 2/4. R@3: q1, q2 (q4's c never retrieved, q3 has none) → 2/4.
  assert.deepEqual(recalls, { 1: 0.25, 2: 0.5, 3: 0.5 });
  assert.equal(withoutPositive, 1);
  // A 24.9 m radius drops d from q1's positives: R@2 falls to 1/4.
  assert.equal(geoRecalls(ranked, queries, DB, [2], 24.9).recalls[2], 0.25);
  assert.throws(() => geoRecalls(ranked, [{}, {}, {}, {}], DB), /no coordinates/);
});

test('predicted location: top-1, or the score-weighted mean of the top k; its error; GeoJSON', () => {
  const byId = new Map(DB.map((d) => [d.id, { ...d, utmZone: '10S' }]));
  const hits = [{ id: 'b', score: 0.6 }, { id: 'c', score: 0.2 }, { id: 'a', score: -0.3 }];
  const top = predictLocation(hits, byId);
  assert.deepEqual([top.utmEast, top.utmNorth], [100, 0]);
  // Weights 0.6, 0.2, 0 (negative scores clamp to 0): east (0.6·100)/0.8 = 75, north (0.2·100)/0.8 = 25.
  const w = predictLocation(hits, byId, { kind: 'weighted', k: 3 });
  close(w.utmEast!, 75, 1e-9);
  close(w.utmNorth!, 25, 1e-9);
  assert.throws(() => predictLocation([], byId), /no hits/);
  const gj = localizationGeoJson([{ id: 'q', truth: { id: 'q', lat: 1, lon: 2 }, predicted: { id: 'p', lat: 1.001, lon: 2 }, errorMeters: 111.2, correctAt1: false }]) as { features: Array<{ geometry: { type: string; coordinates: unknown } }> };
  assert.deepEqual(gj.features.map((f) => f.geometry.type), ['Point', 'Point', 'LineString']);
  assert.deepEqual(gj.features[0]!.geometry.coordinates, [2, 1]);
});

test('NIF and SIF (seed 001 §7.2) on hand-made lists', () => {
  const a = [{ id: 'x', distance: 0.1 }, { id: 'y', distance: 0.5 }, { id: 'z', distance: 0.9 }];
  const b = [{ id: 'w', distance: 0.2 }, { id: 'x', distance: 0.3 }, { id: 'v', distance: 0.4 }];
  // Merged by distance: x 0.1, w 0.2, (x 0.3 dropped), v 0.4, y 0.5, z 0.9.
  assert.deepEqual(nearestIndicesFirst(a, b).map((p) => p.id), ['x', 'w', 'v']);
  assert.deepEqual(nearestIndicesFirst(a, b, 5).map((p) => p.id), ['x', 'w', 'v', 'y', 'z']);
  // Shared first in the stronger model's order, then its own: stronger [p, q, r, s], weaker [s, q, t].
  assert.deepEqual(sharedIndicesFirst(['p', 'q', 'r', 's'], ['s', 'q', 't']), ['q', 's', 'p', 'r']);
  assert.deepEqual(sharedIndicesFirst(['p', 'q', 'r', 's'], ['s', 'q', 't'], 3), ['q', 's', 'p']);
  assert.deepEqual(sharedIndicesFirst(['p', 'q'], []), ['p', 'q']);
});

test('α-query expansion and DBA against hand-computed vectors', async () => {
  const db = Float32Array.from([1, 0, 0.6, 0.8, 0, 1]);
  // Query (1, 0): top-2 are (1,0) s=1 and (0.6,0.8) s=0.6; α = 1 → q + 1·(1,0) + 0.6·(0.6,0.8) = (2.36, 0.48), normalised.
  const q = await alphaQueryExpansion(Float32Array.from([1, 0]), db, 2, 2, 1);
  const n = Math.hypot(2.36, 0.48);
  close(q[0]!, 2.36 / n, 1e-5);
  close(q[1]!, 0.48 / n, 1e-5);
  // DBA, k = 1, α = 3: each row plus s³ times its nearest other row. (1,0) → nearest other (0.6,0.8), s = 0.6:
  // (1, 0) + 0.216·(0.6, 0.8) = (1.1296, 0.1728).
  const d = await databaseSideAugmentation(db, 2, 1, 3);
  const m = Math.hypot(1.1296, 0.1728);
  close(d[0]!, 1.1296 / m, 1e-5);
  close(d[1]!, 0.1728 / m, 1e-5);
  // (0, 1): its nearest other is (0.6, 0.8), s = 0.8 → (0, 1) + 0.512·(0.6, 0.8) = (0.3072, 1.4096).
  const m2 = Math.hypot(0.3072, 1.4096);
  close(d[4]!, 0.3072 / m2, 1e-5);
});

test('local descriptors and mutual nearest neighbours by hand; re-ranking by match count', () => {
  // A [C=2, H=1, W=3] map: positions (1,0), (0,2), (0,0) — the zero position is dropped.
  const map = Float32Array.from([1, 0, 0, 0, 2, 0]);
  const ld = localDescriptors(map, 2, 1, 3);
  assert.equal(ld.n, 2);
  assert.deepEqual([...ld.data], [1, 0, 0, 1]);
  const set = (rows: number[][]) => ({ data: Float32Array.from(rows.flat().map((v, i, all) => v)), n: rows.length, c: 2 });
  const norm = (r: number[]) => r.map((v) => v / Math.hypot(...r));
  const a = set([[1, 0], [0, 1]].map(norm));
  // b: (1, 0.1) is a's first row's match and vice versa; (0.1, 1) likewise; (0.7, 0.7) is nobody's best → 2 mutual pairs.
  const b = set([[1, 0.1], [0.1, 1], [0.7, 0.7]].map(norm));
  assert.equal(mutualNearestNeighbours(a, b), 2);
  // c: both of a's rows prefer (0.7, 0.7), which prefers one of them → 1 mutual pair.
  const c = set([[0.7, 0.7], [-1, 0]].map(norm));
  assert.equal(mutualNearestNeighbours(a, c), 1);
  assert.equal(mutualNearestNeighbours(a, b, 0.999), 0);
  const order = rerankByLocalMatches(a, [{ id: 'c', score: 0.9 }, { id: 'b', score: 0.1 }], (id) => (id === 'b' ? b : c));
  assert.deepEqual(order.map((o) => [o.id, o.matches]), [['b', 2], ['c', 1]]);
});

test('CosPlace classes and groups: M-metre cells × α° sectors; classes of one group are never neighbours', () => {
  // Two images per cell on a 10 m grid; headings 0° and 40° fall in sectors 0 and 1 (α = 30).
  const items: Array<{ utmEast: number; utmNorth: number; heading?: number }> = [];
  for (let e = 0; e < 6; e++) for (let n = 0; n < 6; n++) for (const h of [0, 40]) items.push({ utmEast: e * 10 + 5, utmNorth: n * 10 + 5, heading: h }, { utmEast: e * 10 + 6, utmNorth: n * 10 + 4, heading: h + 5 });
  const c = cosplaceClasses(items, { cellMeters: 10, headingDegrees: 30, groupsPerAxis: 2, headingGroups: 2, minImagesPerClass: 2 });
  // 36 cells × 2 sectors = 72 classes in 2 × 2 × 2 = 8 groups of 9.
  assert.equal(c.groups.length, 8);
  assert.deepEqual(c.groups.map((g) => g.length), Array(8).fill(9));
  assert.equal(c.classOf[0], c.classOf[1], 'two images of one cell and sector share a class');
  assert.notEqual(c.classOf[0], c.classOf[2], 'another sector is another class');
  // No two classes of a group are adjacent (cells differing by ≤ 1 in both axes and the same or next sector).
  const keyOf = new Map<number, number[]>();
  c.classOf.forEach((cls, i) => keyOf.set(cls, c.keys[i]!.split('_').map(Number)));
  for (const g of c.groups) {
    for (const x of g) for (const y of g) {
      if (x === y) continue;
      const [e1, n1, h1] = keyOf.get(x)!, [e2, n2, h2] = keyOf.get(y)!;
      assert.ok(Math.abs(e1! - e2!) >= 2 || Math.abs(n1! - n2!) >= 2 || Math.abs(h1! - h2!) >= 2, `classes ${x}, ${y} are neighbours in one group`);
    }
  }
  // Classes under minImagesPerClass and groups of one class are left out.
  const sparse = cosplaceClasses([{ utmEast: 5, utmNorth: 5 }, { utmEast: 5, utmNorth: 6 }, { utmEast: 500, utmNorth: 5 }], { minImagesPerClass: 2 });
  assert.deepEqual([...sparse.classOf], [-1, -1, -1]);
  assert.throws(() => cosplaceClasses([{ utmEast: 1 }]), /needs UTM coordinates/);
});

test('CosPlace head training on features separates places; with a target domain the GRL model trains too', async (t) => {
  await initTf('wasm');
  // 8 places on a 20 m grid (2 groups with N = 2 along east), 6 noisy views each; a 16-d feature whose first 8 dims
  // carry the place weakly, the rest noise.
  const random = mulberry32(3);
  const items: Array<{ utmEast: number; utmNorth: number }> = [];
  const feats: number[] = [];
  const make = (place: number) => Array.from({ length: 16 }, (_, d) => (d === place ? 1 : 0) + 2.5 * (random() - 0.5));
  for (let p = 0; p < 8; p++) for (let v = 0; v < 6; v++) {
    items.push({ utmEast: (p % 4) * 20 + 5, utmNorth: Math.floor(p / 4) * 20 + 5 });
    feats.push(...make(p));
  }
  const classes = cosplaceClasses(items, { cellMeters: 10, groupsPerAxis: 2, headingGroups: 1, minImagesPerClass: 2 });
  assert.ok(classes.groups.length >= 1);
  const features = { vectors: Float32Array.from(feats), views: 1, shape: [16] };
  const nnAccuracy = (net: { apply: (x: tf.Tensor, training: boolean) => tf.Tensor2D } | undefined) => {
    const e = net ? tf.tidy(() => net.apply(tf.tensor2d(features.vectors, [items.length, 16]), false).arraySync()) : Array.from({ length: items.length }, (_, i) => feats.slice(i * 16, i * 16 + 16));
    const nrm = e.map((r) => r.map((v) => v / Math.hypot(...r)));
    let right = 0;
    nrm.forEach((r, i) => {
      let best = -1, bestS = -Infinity;
      nrm.forEach((s, j) => {
        if (j === i) return;
        const sim = r.reduce((a, v, d) => a + v * s[d]!, 0);
        if (sim > bestS) [bestS, best] = [sim, j];
      });
      if (Math.floor(best / 6) === Math.floor(i / 6)) right++;
    });
    return right / items.length;
  };
  const before = nnAccuracy(undefined);
  const { net, history } = await trainCosPlaceHead(features, classes, { dim: 16, epochs: 30, lr: 0.01, seed: 2 });
  const after = nnAccuracy(net);
  t.diagnostic(`place accuracy ${before} → ${after}; loss ${history[0]!.loss} → ${history.at(-1)!.loss}`);
  assert.ok(after > before, `nearest-neighbour place accuracy ${before} → ${after}`);
  assert.ok(history.at(-1)!.loss < history[0]!.loss);
  const target = { vectors: Float32Array.from({ length: 10 * 16 }, () => random()), count: 10 };
  const grl = await trainCosPlaceHead(features, classes, { dim: 16, epochs: 4, lr: 0.01, seed: 2, target });
  assert.equal(grl.history.length, 4);
  assert.ok(grl.history.every((h) => Number.isFinite(h.loss)));
});

test('test-time darkening scales every pixel before the model, and a gallery records it for its queries', async (t) => {
  const dir = tempDir(t);
  const model = await writeChannelMeanModel(dir, { mean: [0, 0, 0], std: [1, 1, 1] });
  const file = await writeSolid(path.join(dir, 'x.png'), [200, 100, 50]);
  const embedder = await Embedder.load(model, { normalize: false, workers: 0 });
  try {
    const plain = (await embedder.embedFiles([file])).vectors;
    const dark = (await embedder.embedFiles([file], { brightness: 0.15 })).vectors;
    // Channel means of round(v · 0.15)/255: 30, 15, 8 (7.5 rounds to 8).
    assert.deepEqual([...dark].map((v) => Math.round(v * 255)), [30, 15, 8]);
    assert.deepEqual([...plain].map((v) => Math.round(v * 255)), [200, 100, 50]);
    await assert.rejects(embedder.embedFiles([file], { brightness: -1 }), /brightness factor must be a positive number/);
  } finally {
    await embedder.close();
  }
  assert.deepEqual(expectedColourDescriptor([30, 15, 8]).length, 3);
});

test('visid recipe geo on real photos with assigned coordinates: Recall@N steps, report, GeoJSON, CSV', async (t) => {
  const shared = process.env.VISID_SHARED ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared');
  const photos = path.join(shared, 'data', 'faces-deepface');
  if (!(await fs.access(photos).then(() => true, () => false))) return t.skip('shared photos not available');
  const dir = tempDir(t);
  const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/visid.js');
  const { stdout } = await promisify(execFile)(process.execPath, [bin, 'recipe', 'geo', path.join(dir, 'root'), '--make-demo', '-o', path.join(dir, 'out'), '--epochs', '2', '--views', '1',
    '--heading', '360', '--groups', '2', '--heading-groups', '1', '--min-images', '1', '--rerank', 'qe', '--quiet'], { env: { ...process.env, VISID_SHARED: shared }, maxBuffer: 1 << 24 });
  assert.match(stdout, /47 queries, 113 database images, 7 queries without a positive within 25 m/);
  const lines = stdout.split('\n').filter((l) => l.startsWith('R@1 '));
  // baseline, CosPlace head, + re-rank, and the two night-query rows (the model, then darkened).
  assert.equal(lines.length, 5, stdout);
  for (const l of lines) {
    const r1 = Number(/R@1 ([\d.]+)/.exec(l)![1]);
    const r20 = Number(/R@20 ([\d.]+)/.exec(l)![1]);
    assert.ok(r1 >= 0 && r1 <= r20 && r20 <= 100 * (40 / 47) + 1e-9, l);
  }
  const out = path.join(dir, 'out');
  const gj = JSON.parse(await fs.readFile(path.join(out, 'predictions.geojson'), 'utf8')) as { features: unknown[] };
  assert.equal(gj.features.length, 3 * 47);
  const html = await fs.readFile(path.join(out, 'report.html'), 'utf8');
  assert.match(html, /<svg[^>]*aria-label=/);
  assert.match(html, /R@5 %/);
  const csv = (await fs.readFile(path.join(out, 'predictions.csv'), 'utf8')).trim().split('\n');
  assert.equal(csv.length, 48);
});
