import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EARTH_RADIUS_M, fuseDescriptors, geoDistanceMeters, geoPositives, haversineMeters, l2NormalizeRows } from '../src/api.js';
import { assertClose } from './helpers.js';

test('haversine: one degree of latitude is 2πR/360 on the sphere', () => {
  assert.ok(Math.abs(haversineMeters(0, 0, 1, 0) - (2 * Math.PI * EARTH_RADIUS_M) / 360) < 1e-6);
  // Along the equator the same holds for longitude; at 60° latitude a degree of longitude is half as long
  // for short arcs (cos 60° = 0.5).
  assert.ok(Math.abs(haversineMeters(0, 10, 0, 11) - (2 * Math.PI * EARTH_RADIUS_M) / 360) < 1e-6);
  const small = haversineMeters(60, 0, 60, 0.001);
  assert.ok(Math.abs(small - 0.5 * (2 * Math.PI * EARTH_RADIUS_M) / 360 / 1000) < 1e-3);
  // Antipodes: half the circumference.
  assert.ok(Math.abs(haversineMeters(0, 0, 0, 180) - Math.PI * EARTH_RADIUS_M) < 1e-6);
});

test('geo distance uses UTM (Euclidean) when both points have it', () => {
  assert.equal(geoDistanceMeters({ utmEast: 100, utmNorth: 200 }, { utmEast: 103, utmNorth: 204 }), 5);
  assert.throws(() => geoDistanceMeters({ lat: 1, lon: 2 }, { utmEast: 1, utmNorth: 2 }), /both points/);
});

test('geoPositives: database items within the radius (25 m default)', () => {
  const db = [
    { id: 'near', utmEast: 10, utmNorth: 0 },
    { id: 'edge', utmEast: 25, utmNorth: 0 },
    { id: 'far', utmEast: 25.01, utmNorth: 0 },
  ];
  assert.deepEqual(geoPositives([{ utmEast: 0, utmNorth: 0 }], db), [['near', 'edge']]);
  assert.deepEqual(geoPositives([{ utmEast: 0, utmNorth: 0 }], db, 5), [[]]);
});

test('l2NormalizeRows normalises each row and leaves zero rows alone', () => {
  const m = Float32Array.from([3, 4, 0, 0, 0, 2]);
  l2NormalizeRows(m, 2);
  assertClose(m, [0.6, 0.8, 0, 0, 0, 1]);
});

test('fuseDescriptors: avg renormalises, sum does not, max/min are element-wise on normalised views', () => {
  const a = Float32Array.from([1, 0]);
  const b = Float32Array.from([0, 2]); // normalised: [0, 1]
  assertClose(fuseDescriptors([a, b], 'avg'), [Math.SQRT1_2, Math.SQRT1_2]);
  assertClose(fuseDescriptors([a, b], 'sum'), [1, 1]);
  assertClose(fuseDescriptors([a, b], 'max'), [1, 1]);
  assertClose(fuseDescriptors([a, b], 'min'), [0, 0]);
  assert.throws(() => fuseDescriptors([a, Float32Array.from([1, 2, 3])], 'avg'), /lengths/);
  assert.throws(() => fuseDescriptors([], 'avg'), /nothing to fuse/);
});
