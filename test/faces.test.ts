import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { decodeRgb, VisidError } from '../src/api.js';
import { readCsvPairs, readLfwPairs } from '../src/jobs/faces/pairs.js';
import { faceEngine, singleFace, verifyFiles } from '../src/jobs/faces/service.js';
import type { FaceEngine } from '../src/jobs/faces/engine.js';
import { tempDir, writeSolid } from './helpers.js';

const SHARED = path.resolve(process.env['VISID_SHARED'] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../shared'));
const DEEPFACE = path.join(SHARED, 'data', 'faces-deepface');
const HAVE = existsSync(path.join(DEEPFACE, 'master.csv'));
const SKIP = HAVE ? false : `shared face data not found at ${DEEPFACE} (set VISID_SHARED)`;
const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/visid.js');

// The onnxruntime pipeline the commands and the server use (face-api's networks, dlib's ResNet by default).
const system = (): Promise<FaceEngine> => faceEngine();

/** Identities = connected components of the "same" pairs of master.csv. */
async function identities(): Promise<string[][]> {
  const pairs = await readCsvPairs(path.join(DEEPFACE, 'master.csv'));
  const parent = new Map<string, string>();
  const find = (f: string): string => {
    if (!parent.has(f)) parent.set(f, f);
    return parent.get(f) === f ? f : find(parent.get(f)!);
  };
  for (const p of pairs) if (p.same) parent.set(find(p.a), find(p.b));
  const groups = new Map<string, string[]>();
  for (const f of [...parent.keys()].sort()) (groups.get(find(f)) ?? groups.set(find(f), []).get(find(f))!).push(f);
  return [...groups.values()].filter((g) => g.length >= 2);
}

test('pairs files: LFW pairs.txt with header, CSV Yes/No; malformed lines are named', async (t) => {
  const dir = tempDir(t);
  await fs.writeFile(path.join(dir, 'pairs.txt'), '2\t1\nAlice\t1\t2\nAlice\t1\tBob\t3\nBob 2 4\nCarol 1 Dan 1\n');
  const lfw = await readLfwPairs(path.join(dir, 'pairs.txt'), '/lfw');
  assert.deepEqual(lfw[0], { a: '/lfw/Alice/Alice_0001.jpg', b: '/lfw/Alice/Alice_0002.jpg', same: true });
  assert.deepEqual(lfw[1], { a: '/lfw/Alice/Alice_0001.jpg', b: '/lfw/Bob/Bob_0003.jpg', same: false });
  assert.equal(lfw.length, 4);
  await fs.writeFile(path.join(dir, 'bad.txt'), 'Alice 1 2\nAlice one two\n');
  await assert.rejects(readLfwPairs(path.join(dir, 'bad.txt'), '/lfw'), /bad\.txt:2: expected "name i j"/);
  await fs.writeFile(path.join(dir, 'p.csv'), 'file_x,file_y,Decision\r\na.jpg,b.jpg,Yes\r\na.jpg,c.jpg,No\r\n');
  assert.deepEqual((await readCsvPairs(path.join(dir, 'p.csv'))).map((p) => [path.basename(p.b), p.same]), [['b.jpg', true], ['c.jpg', false]]);
});

test('detection: all faces with boxes and scores, in EXIF-oriented coordinates', { skip: SKIP }, async (t) => {
  const s = await system();
  const [couple] = (await s.detect([await decodeRgb(path.join(DEEPFACE, 'couple.jpg'))])) as [Awaited<ReturnType<FaceEngine['detect']>>[number]];
  assert.equal(couple.length, 2);
  for (const f of couple) {
    assert.ok(f.score > 0.9 && f.box.width > 20 && f.landmarks.length === 68 && f.five.length === 5);
    // Eyes above the mouth, left eye left of the right eye.
    assert.ok(f.five[0]![0] < f.five[1]![0] && f.five[0]![1] < f.five[3]![1]);
  }
  const [many] = (await s.detect([await decodeRgb(path.join(DEEPFACE, 'selfie-many-people.jpg'))])) as [Awaited<ReturnType<FaceEngine['detect']>>[number]];
  t.diagnostic(`couple scores ${couple.map((f) => f.score.toFixed(3))}, selfie ${many.length} faces`);
  assert.ok(many.length >= 4, `selfie: ${many.length} faces`);
  assert.ok(many.every((f, i) => i === 0 || many[i - 1]!.score >= f.score), 'best score first');

  // Store the pixels rotated a quarter turn with EXIF orientation 6: the decoded photo is upright again.
  const dir = tempDir(t);
  const rotated = path.join(dir, 'rotated.jpg');
  await sharp(path.join(DEEPFACE, 'img1.jpg')).autoOrient().rotate(-90).withMetadata({ orientation: 6 }).jpeg().toFile(rotated);
  const [upright, viaExif] = (await s.detect([await decodeRgb(path.join(DEEPFACE, 'img1.jpg')), await decodeRgb(rotated)])) as [Awaited<ReturnType<FaceEngine['detect']>>[number], Awaited<ReturnType<FaceEngine['detect']>>[number]];
  assert.equal(viaExif.length, 1);
  assert.ok(Math.abs(viaExif[0]!.box.x - upright[0]!.box.x) < 0.05 * upright[0]!.box.width, 'same box after EXIF rotation');
  assert.ok(viaExif[0]!.five[0]![1] < viaExif[0]!.five[3]![1], 'eyes above mouth: the face is upright');
});

test('verification on real pairs: same people score above the threshold, different people below', { skip: SKIP }, async (t) => {
  const s = await system();
  const groups = await identities();
  for (const g of groups.slice(0, 3)) {
    const r = await verifyFiles(s, g[0]!, g[1]!);
    assert.ok(r.same, `${path.basename(g[0]!)} vs ${path.basename(g[1]!)}: ${r.score} < ${r.threshold}`);
    assert.equal(r.threshold, s.recognizer.threshold);
    assert.ok(Math.abs(r.distance - (2 - 2 * r.score)) < 1e-12);
  }
  for (let i = 0; i < 3; i++) {
    const r = await verifyFiles(s, groups[i]![0]!, groups[i + 1]![0]!);
    assert.ok(!r.same, `${path.basename(groups[i]![0]!)} vs ${path.basename(groups[i + 1]![0]!)}: ${r.score}`);
  }
});

test('bad inputs: no face, several faces, unreadable file', { skip: SKIP }, async (t) => {
  const s = await system();
  const dir = tempDir(t);
  const blank = await writeSolid(path.join(dir, 'blank.jpg'), [120, 130, 140], 320, 240);
  await assert.rejects(singleFace(s, blank), (e: VisidError) => e.message === `${blank}: no face found`);
  const couple = path.join(DEEPFACE, 'couple.jpg');
  await assert.rejects(verifyFiles(s, couple, path.join(DEEPFACE, 'img1.jpg')), /couple\.jpg: 2 faces found; verification needs exactly one/);
  const broken = path.join(dir, 'broken.jpg');
  await fs.writeFile(broken, 'not a jpeg');
  await assert.rejects(singleFace(s, broken), (e: VisidError) => e.code === 'E_IMAGE' && e.item === broken);
});

async function visid(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [BIN, ...args]);
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('visid face enroll / identify / eval-lfw end to end on real photos', { skip: SKIP }, async (t) => {
  const dir = tempDir(t);
  const groups = (await identities()).slice(0, 3);
  const people = path.join(dir, 'people');
  const names = ['anna', 'ben', 'cleo'];
  for (let i = 0; i < groups.length; i++) {
    await fs.mkdir(path.join(people, names[i]!), { recursive: true });
    await fs.copyFile(groups[i]![0]!, path.join(people, names[i]!, '1.jpg'));
  }
  await fs.copyFile(path.join(DEEPFACE, 'couple.jpg'), path.join(people, 'anna', 'two-faces.jpg'));
  await fs.writeFile(path.join(people, 'ben', 'broken.jpg'), 'not a jpeg');
  const gallery = path.join(dir, 'gallery');
  const enrol = await visid(['face', 'enroll', people, '--out', gallery, '-q']);
  assert.equal(enrol.code, 0, enrol.stderr);
  assert.match(enrol.stdout, /enrolled 3 photos; gallery .* holds 3 photos of 3 people/);
  assert.match(enrol.stderr, /anna\/two-faces\.jpg: 2 faces found, skipped/);
  assert.match(enrol.stderr, /ben\/broken\.jpg: cannot decode image .*, skipped/);

  const annotated = path.join(dir, 'annotated.png');
  const id = await visid(['face', 'identify', gallery, groups[1]![1]!, '--json', '--annotate', annotated]);
  assert.equal(id.code, 0, id.stderr);
  const res = JSON.parse(id.stdout);
  assert.equal(res.faces.length, 1);
  assert.equal(res.faces[0].identity, 'ben');
  assert.equal(res.faces[0].candidates.length, 3);
  const meta = await sharp(annotated).metadata();
  const orig = await sharp(groups[1]![1]!).autoOrient().toBuffer({ resolveWithObject: true });
  assert.deepEqual([meta.width, meta.height], [orig.info.width, orig.info.height]);

  // A stranger is unknown (open set): a photo of someone not enrolled.
  const others = (await identities()).slice(3);
  const stranger = await visid(['face', 'identify', gallery, others[0]![0]!, '--json']);
  assert.equal(JSON.parse(stranger.stdout).faces[0].identity, 'unknown');

  // LFW layout and pairs.txt, made by hand: 2 folds × (1 matched + 1 mismatched).
  const lfw = path.join(dir, 'lfw');
  for (let i = 0; i < groups.length; i++) {
    await fs.mkdir(path.join(lfw, names[i]!), { recursive: true });
    for (let j = 0; j < 2; j++) await fs.copyFile(groups[i]![j]!, path.join(lfw, names[i]!, `${names[i]}_000${j + 1}.jpg`));
  }
  await fs.writeFile(path.join(dir, 'pairs.txt'), '2\t1\nanna\t1\t2\nanna\t1\tben\t1\nben\t1\t2\nben\t2\tcleo\t1\n');
  const ev = await visid(['face', 'eval-lfw', lfw, '--pairs', path.join(dir, 'pairs.txt'), '--folds', '2', '--json', '--roc', path.join(dir, 'roc.svg'), '-q']);
  assert.equal(ev.code, 0, ev.stderr);
  const report = JSON.parse(ev.stdout);
  assert.equal(report.pairs, 4);
  assert.equal(report.folds.length, 2);
  // Every matched pair is closer than every mismatched one; with one pair of each per fold the chosen
  // threshold (the first that separates the training fold) may still miss a test pair, so accuracy is ≥ 0.5.
  assert.equal(report.auc, 1);
  t.diagnostic(`eval-lfw accuracy ${report.accuracy}`);
  assert.ok(report.accuracy >= 0.5 && report.photosWithoutFace.length === 0);
  assert.match(await fs.readFile(path.join(dir, 'roc.svg'), 'utf8'), /^<svg/);
});
