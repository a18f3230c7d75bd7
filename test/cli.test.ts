import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Gallery, readNpy } from '../src/api.js';
import { assertClose, expectedColourDescriptor, tempDir, writeChannelMeanModel, writeSolid } from './helpers.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/visid.js');
const run = promisify(execFile);

async function visid(args: string[], cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, FORCE_COLOR: '0' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const COLOURS: Record<string, [number, number, number][]> = {
  red: [[250, 10, 10], [220, 30, 20], [200, 0, 40]],
  green: [[10, 240, 10], [40, 200, 30]],
  blue: [[0, 20, 250], [30, 30, 200]],
};

async function setup(t: Parameters<typeof tempDir>[0]) {
  const dir = tempDir(t);
  const model = await writeChannelMeanModel(dir);
  const data = path.join(dir, 'data');
  for (const [label, list] of Object.entries(COLOURS)) {
    for (let i = 0; i < list.length; i++) await writeSolid(path.join(data, label, `${i}.png`), list[i]!, 30 + i, 20);
  }
  const queries = path.join(dir, 'queries');
  await writeSolid(path.join(queries, 'red', 'q.png'), [230, 25, 25]);
  await writeSolid(path.join(queries, 'blue', 'q.png'), [20, 20, 230]);
  return { dir, model, data, queries, gallery: path.join(dir, 'gallery') };
}

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of (await fs.readdir(dir)).sort()) out[f] = (await fs.readFile(path.join(dir, f))).toString('base64');
  return out;
}

test('index → search → eval → export on real PNG files with a real ONNX model', async (t) => {
  const s = await setup(t);
  const idx = await visid(['index', s.data, '--model', s.model, '--out', s.gallery, '--batch', '3']);
  assert.equal(idx.code, 0, idx.stderr);
  assert.match(idx.stdout, /7 added, 0 already there, 0 skipped/);
  // Not a TTY: plain progress lines on stderr.
  assert.match(idx.stderr, /index: 7\/7 img \(100%\)/);

  const g = await Gallery.open(s.gallery);
  assert.deepEqual(g.items.map((i) => i.id), ['blue/0.png', 'blue/1.png', 'green/0.png', 'green/1.png', 'red/0.png', 'red/1.png', 'red/2.png']);
  assertClose(g.vectors.subarray(4 * 3, 5 * 3), expectedColourDescriptor([250, 10, 10]));

  const search = await visid(['search', s.gallery, path.join(s.queries, 'red', 'q.png'), '--k', '2', '--json']);
  assert.equal(search.code, 0, search.stderr);
  const hits = JSON.parse(search.stdout).results[0].hits as Array<{ id: string; label: string; score: number }>;
  // The nearest colour by cosine to (230,25,25) among the gallery, computed by hand.
  const q = expectedColourDescriptor([230, 25, 25]);
  const cos = (c: [number, number, number]) => expectedColourDescriptor(c).reduce((a, v, i) => a + v * q[i]!, 0);
  const ranked = Object.entries(COLOURS)
    .flatMap(([label, list]) => list.map((c, i) => ({ id: `${label}/${i}.png`, score: cos(c) })))
    .sort((a, b) => b.score - a.score);
  assert.deepEqual(hits.map((h) => h.id), ranked.slice(0, 2).map((r) => r.id));
  assert.ok(Math.abs(hits[0]!.score - ranked[0]!.score) < 1e-5);

  const unique = await visid(['search', s.gallery, s.queries, '--k', '3', '--unique-labels', '--json']);
  const labels = JSON.parse(unique.stdout).results.map((r: { labels: Array<{ label: string }> }) => r.labels.map((l) => l.label));
  assert.equal(labels.length, 2);
  assert.equal(labels[0][0], 'blue');
  assert.equal(labels[1][0], 'red');
  assert.equal(new Set(labels[0]).size, 3);

  const evalRes = await visid(['eval', s.gallery, '--queries', s.queries, '--metrics', 'map@5,recall@1,precision@2', '--json']);
  assert.equal(evalRes.code, 0, evalRes.stderr);
  const report = JSON.parse(evalRes.stdout);
  assert.deepEqual(report.metrics, { 'map@5': 1, 'recall@1': 1, 'precision@2': 1 });

  const reportFile = path.join(s.dir, 'report.html');
  const withReport = await visid(['eval', s.gallery, '--queries', s.queries, '--metrics', 'map@5,recall@1', '--report', reportFile]);
  assert.equal(withReport.code, 0, withReport.stderr);
  const html = await fs.readFile(reportFile, 'utf8');
  assert.match(html, /<th scope="row">map@5<\/th><td>1\.0000<\/td>/);
  assert.match(html, /aria-label="Recall@k"/);
  assert.match(html, /aria-label="Precision–recall/);
  // Two example queries, each with its query image and its top results embedded as data URIs.
  assert.equal((html.match(/class="example"/g) ?? []).length, 2);
  assert.ok((html.match(/src="data:image\/jpeg;base64,/g) ?? []).length >= 2 * 5);

  const text = await visid(['eval', s.gallery, '--queries', s.data, '--exclude-self', '--metrics', 'recall@1']);
  assert.match(text.stdout, /7 queries against 7 gallery items \(label relevance\)\nrecall@1 +1\.0000/);

  const npy = path.join(s.dir, 'd.npy');
  const exp = await visid(['export', s.gallery, '--npy', npy]);
  assert.equal(exp.code, 0, exp.stderr);
  const arr = await readNpy(npy);
  assert.deepEqual(arr.shape, [7, 3]);
  assert.deepEqual([...arr.data], [...g.vectors]);

  const info = await visid(['info', s.gallery, '--json']);
  assert.deepEqual(JSON.parse(info.stdout).count, 7);

  // Round trip through numpy's format: import the exported descriptors into a new gallery.
  const meta = path.join(s.dir, 'd.jsonl');
  await visid(['export', s.gallery, '--npy', npy, '--meta', meta]);
  const copy = path.join(s.dir, 'copy');
  const imp = await visid(['import', copy, '--npy', npy, '--meta', meta]);
  assert.equal(imp.code, 0, imp.stderr);
  const copied = await Gallery.open(copy);
  assert.deepEqual([...copied.vectors], [...g.vectors]);
  assert.deepEqual(copied.items, g.items);
  const dup = await visid(['import', copy, '--npy', npy, '--meta', meta]);
  assert.equal(dup.code, 2);
  assert.match(dup.stderr, /blue\/0\.png: id is already in the gallery/);
});

test('re-running index resumes: only new images are embedded', async (t) => {
  const s = await setup(t);
  assert.equal((await visid(['index', s.data, '-m', s.model, '-o', s.gallery, '-q'])).code, 0);
  await writeSolid(path.join(s.data, 'green', 'new.png'), [5, 250, 5]);
  const again = await visid(['index', s.data, '-m', s.model, '-o', s.gallery]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /1 added, 7 already there/);
  assert.match(again.stderr, /resuming: 7 items already in/);
  assert.equal((await Gallery.open(s.gallery)).count, 8);
  // A different model must not be mixed into the same gallery.
  const other = await writeChannelMeanModel(s.dir, {}, 'other');
  const mixed = await visid(['index', s.data, '-m', other, '-o', s.gallery]);
  assert.equal(mixed.code, 2);
  assert.match(mixed.stderr, /built with another model/);
});

test('a corrupt image stops indexing with its name and leaves the stored gallery intact; --skip-bad skips it', async (t) => {
  const s = await setup(t);
  assert.equal((await visid(['index', s.data, '-m', s.model, '-o', s.gallery, '-q'])).code, 0);
  const before = await snapshot(s.gallery);
  const bad = path.join(s.data, 'red', 'broken.jpg');
  const good = await fs.readFile(await writeSolid(path.join(s.dir, 'tmp.jpg'), [1, 2, 3], 64, 64));
  await fs.writeFile(bad, good.subarray(0, good.length >> 1));
  await writeSolid(path.join(s.data, 'red', 'fine.png'), [240, 5, 5]);
  const res = await visid(['index', s.data, '-m', s.model, '-o', s.gallery, '-q']);
  assert.equal(res.code, 2);
  assert.match(res.stderr, new RegExp(`visid: ${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot decode image`));
  assert.deepEqual(await snapshot(s.gallery), before);

  const skip = await visid(['index', s.data, '-m', s.model, '-o', s.gallery, '-q', '--skip-bad']);
  assert.equal(skip.code, 0, skip.stderr);
  assert.match(skip.stdout, /1 added, 7 already there, 1 skipped/);
  assert.match(skip.stderr, /skipped red\/broken\.jpg: /);
  assert.ok((await Gallery.open(s.gallery)).items.some((i) => i.id === 'red/fine.png'));
});

test('bad arguments and inputs give clear errors and non-zero exits', async (t) => {
  const s = await setup(t);
  const noGallery = await visid(['search', path.join(s.dir, 'nope'), s.queries]);
  assert.equal(noGallery.code, 2);
  assert.match(noGallery.stderr, /no gallery here/);
  const badK = await visid(['search', s.gallery, s.queries, '--k', 'zero']);
  assert.notEqual(badK.code, 0);
  assert.match(badK.stderr, /'zero' is not a positive integer/);
  const badMetric = await visid(['eval', s.gallery, '--queries', s.queries, '--metrics', 'f1']);
  assert.equal(badMetric.code, 2);
  assert.match(badMetric.stderr, /unknown metric 'f1'/);
  const noData = await visid(['index', path.join(s.dir, 'missing'), '-m', s.model, '-o', s.gallery]);
  assert.equal(noData.code, 2);
  assert.match(noData.stderr, /missing: no such file or folder/);
});

test('a gallery built with a named model still searches after the package moved', async (t) => {
  const s = await setup(t);
  assert.equal((await visid(['index', s.data, '-m', 'fashion-mnist', '-o', s.gallery, '-q'])).code, 0);
  const manifest = path.join(s.gallery, 'gallery.json');
  const m = JSON.parse(await fs.readFile(manifest, 'utf8'));
  assert.equal(m.model.name, 'visid-fashion-mnist-resnet-v2');
  m.model.path = '/nowhere/old-install/models/visid-fashion-mnist-resnet-v2.onnx';
  await fs.writeFile(manifest, JSON.stringify(m));
  const res = await visid(['search', s.gallery, path.join(s.queries, 'red', 'q.png'), '--k', '1', '--json']);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(JSON.parse(res.stdout).results[0].hits.length, 1);
});

test('visid index without --model embeds with the photo model; visid models lists the names; an unknown name is refused', async (t) => {
  const s = await setup(t);
  const res = await visid(['index', s.data, '-o', s.gallery, '-q']);
  assert.equal(res.code, 0, res.stderr);
  const m = JSON.parse(await fs.readFile(path.join(s.gallery, 'gallery.json'), 'utf8'));
  assert.equal(m.model.name, 'visid-photo-mobilenetv2-gem-v1');
  assert.equal(m.dim, 1280);
  const models = JSON.parse((await visid(['models', '--json'])).stdout) as Array<{ name: string; dim: number; licence: string; source: string; inputSize: number[] }>;
  for (const name of ['photo', 'photo-small', 'photo-inceptionv3', 'fashion-mnist', 'random-conv', 'mobilenet-wider']) assert.ok(models.some((x) => x.name === name), name);
  const photo = models.find((x) => x.name === 'photo')!;
  assert.deepEqual([photo.dim, photo.inputSize[0]], [1280, 224]);
  assert.match(photo.licence, /MIT/);
  assert.match(photo.source, /nsfwjs/);
  const bad = await visid(['index', s.data, '-m', 'no-such-model', '-o', path.join(s.dir, 'g2'), '-q']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /no model file or model name 'no-such-model' \(names: photo, /);
});

test('every benchmark script answers --help without running', async () => {
  const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bench');
  const scripts = (await fs.readdir(benchDir)).filter((f) => f.endsWith('.js') && !['common.js', 'report-rss.js', 'resnet50.js'].includes(f));
  assert.ok(scripts.length >= 12, scripts.join(' '));
  // A script that ran its benchmark instead would take minutes: the generous wait (60 s; --help takes well under
  // 1 s) stops it, and its output would not be the usage text.
  for (const script of scripts) {
    const r = await promisify(execFile)(process.execPath, [path.join(benchDir, script), '--help'], { timeout: 60_000 });
    assert.match(r.stdout, /(Benchmark|usage)/i, script);
  }
});

test('a command loads only its own modules; unknown names and visid --help get every command', async () => {
  const { buildProgram } = await import('../src/cli/main.js');
  const all = (await buildProgram()).commands.map((c) => c.name());
  assert.deepEqual(all.slice(0, 4), ['demo', 'index', 'search', 'eval']);
  assert.equal(all.length, 19);
  assert.deepEqual((await buildProgram('index')).commands.map((c) => c.name()), ['index']);
  assert.deepEqual((await buildProgram('eval')).commands[0]!.commands.map((c) => c.name()), ['copy']);
  assert.deepEqual((await buildProgram('nope')).commands.map((c) => c.name()), all);
  // `visid index` starts without TensorFlow.js, Fastify or ioredis (BullMQ's client); the whole program loads the
  // first two, so the check can fail. They are CommonJS, so a fresh process's require cache lists what was loaded.
  const loaded = async (name?: string) => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', `
      const { buildProgram } = await import(${JSON.stringify(new URL('../src/cli/main.js', import.meta.url).href)});
      await buildProgram(${JSON.stringify(name)});
      const { createRequire } = await import('node:module');
      const keys = Object.keys(createRequire(import.meta.url).cache);
      console.log(JSON.stringify(['@tensorflow/tfjs-core', 'fastify', 'ioredis'].filter((n) => keys.some((k) => k.includes('/node_modules/' + n + '/')))));
    `]);
    return JSON.parse(stdout) as string[];
  };
  assert.deepEqual(await loaded('index'), []);
  assert.deepEqual(await loaded(), ['@tensorflow/tfjs-core', 'fastify']);
});

test('every command has --help', async () => {
  const top = await visid(['--help']);
  for (const cmd of ['demo', 'index', 'search', 'eval', 'export', 'import', 'info', 'remove', 'compact', 'models', 'face', 'serve', 'train', 'augment', 'recipe']) {
    assert.match(top.stdout, new RegExp(`\\n  ${cmd} `));
    const help = await visid([cmd, '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, new RegExp(`Usage: visid ${cmd}`));
  }
  for (const sub of ['verify', 'enroll', 'identify', 'eval-lfw', 'eval-pairs']) {
    const help = await visid(['face', sub, '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, new RegExp(`Usage: visid face ${sub}`));
    assert.match(help.stdout, /--min-score/);
  }
});

test('visid demo runs the main job on the embedded default model', async (t) => {
  const dir = tempDir(t);
  const res = await visid(['demo', 'fashion-mnist', '--out', path.join(dir, 'demo'), '--per-class', '20']);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /model: visid-fashion-mnist-resnet-v2/);
  assert.match(res.stdout, /indexed 200 gallery images/);
  const metric = (name: string) => Number(new RegExp(`${name}\\s+([0-9.]+)`).exec(res.stdout)![1]);
  // The trained default finds the right clothing class for most real Fashion-MNIST test images (raw pixels: ~0.76).
  t.diagnostic(`demo recall@1 ${metric('recall@1')}, map@5 ${metric('map@5')}`);
  assert.ok(metric('recall@1') >= 0.75, `recall@1 ${metric('recall@1')}`);
  assert.ok(metric('map@5') >= metric('recall@1'));
  const html = await fs.readFile(path.join(dir, 'demo', 'report.html'), 'utf8');
  assert.match(html, /<svg[^>]*aria-label="Recall@k"/);
  assert.equal((html.match(/<img alt=/g) ?? []).length, 12 * 6, 'a grid of 12 queries with their top-5 images');
  const places = await visid(['demo', '--out', path.join(dir, 'places'), '--data', 'places', '--classes', '4']);
  assert.equal(places.code, 0, places.stderr);
  assert.match(places.stdout, /indexed 24 gallery images/);
  assert.match(places.stdout, /queries with red occlusions/);
});

test('visid train from flags and a YAML config; soup and snapshot ensemble of the run; config errors name the field', async (t) => {
  const dir = tempDir(t);
  const mini = path.resolve(path.dirname(BIN), '../data/fashion-mnist-mini');
  const bad = path.join(dir, 'bad.yaml');
  await fs.writeFile(bad, `data: ${mini}\nout: run\nloss:\n  name: arcface\n  miner: hardest\n`);
  const refused = await visid(['train', '--config', bad]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /config field 'loss.miner': unknown miner 'hardest'/);
  await fs.writeFile(path.join(dir, 'broken.yaml'), 'data: [unclosed\n');
  assert.match((await visid(['train', '--config', path.join(dir, 'broken.yaml')])).stderr, /config is not valid YAML/);

  const cfg = path.join(dir, 'snap.yaml');
  await fs.writeFile(
    cfg,
    [`data: ${mini}`, 'out: run', 'trainPerClass: 20', 'valPerClass: 10', 'epochs: 4', 'batchSize: 32', 'embeddingDim: 16', 'model: { type: resnet, widths: [8] }', 'schedule: { kind: cosine-restarts, cycles: 2 }', 'loss: { name: cosface, scale: 16 }'].join('\n'),
  );
  const trained = await visid(['train', '--config', cfg, '-q']);
  assert.equal(trained.code, 0, trained.stderr);
  assert.match(trained.stdout, /untrained: recall@1 [0-9.]+/);
  const run = path.join(dir, 'run');
  assert.equal((await fs.readdir(path.join(run, 'checkpoints'))).length, 4);

  const soup = await visid(['train', 'soup', run, '--greedy']);
  assert.equal(soup.code, 0, soup.stderr);
  assert.match(soup.stdout, /greedy soup of epochs [0-9, ]+: recall@1 [0-9.]+/);
  const ens = await visid(['train', 'ensemble', run]);
  assert.equal(ens.code, 0, ens.stderr);
  // Snapshots at the ends of the two cosine cycles: epochs 2 and 4.
  assert.match(ens.stdout, /ensemble of epochs 2, 4/);
  const card = JSON.parse(await fs.readFile(path.join(run, 'snapshot-ensemble.json'), 'utf8'));
  assert.equal(card.outputDim, 32);

  // The trained model indexes and searches like any ONNX model.
  const data = path.join(dir, 'imgs');
  const { writeFashionMnistDemo } = await import('../src/demo/fashion-mnist.js');
  const dirs = await writeFashionMnistDemo(data, { galleryPerClass: 3, queriesPerClass: 1 });
  assert.equal((await visid(['index', dirs.gallery, '--model', path.join(run, 'snapshot-ensemble.onnx'), '-o', path.join(dir, 'g'), '-q'])).code, 0);
  const found = await visid(['search', path.join(dir, 'g'), dirs.queries, '--k', '1', '--json']);
  assert.equal(found.code, 0, found.stderr);
  assert.equal(JSON.parse(found.stdout).results.length, 10);
});

test('visid augment writes a grid of seeded samples; bad pipelines are refused by step', async (t) => {
  const dir = tempDir(t);
  const img = await writeSolid(path.join(dir, 'grey.png'), [120, 120, 120], 64, 48);
  const cfg = path.join(dir, 'p.yaml');
  await fs.writeFile(cfg, '- { op: HorizontalFlip, p: 0.5 }\n- { op: RedOcclusion }\n');
  const out = path.join(dir, 'grid.png');
  const res = await visid(['augment', img, '--config', cfg, '--n', '4', '--tile', '32', '--out', out]);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /RedOcclusion/);
  const sharp = (await import('sharp')).default;
  const meta = await sharp(out).metadata();
  assert.deepEqual([meta.width, meta.height], [2 * 36 - 4, 2 * 36 - 4]);
  // Every tile carries pure red pixels (the occlusion), the grey is kept elsewhere.
  const raw = await sharp(out).removeAlpha().raw().toBuffer();
  let red = 0;
  for (let i = 0; i < raw.length; i += 3) if (raw[i] === 255 && raw[i + 1] === 0 && raw[i + 2] === 0) red++;
  t.diagnostic(`red pixels ${red}`);
  assert.ok(red > 4 * 32 * 32 * (1 / 16) * 0.5, `red pixels: ${red}`);
  const again = path.join(dir, 'again.png');
  await visid(['augment', img, '--config', cfg, '--n', '4', '--tile', '32', '--out', again]);
  assert.ok((await fs.readFile(out)).equals(await fs.readFile(again)), 'same seed, same grid');
  await fs.writeFile(cfg, '- { op: Blur }\n');
  const bad = await visid(['augment', img, '--config', cfg]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /steps\[0\] \(Blur\): unknown op/);
});

test('Ctrl-C stops visid train cleanly and --resume finishes the run', async (t) => {
  const dir = tempDir(t);
  const mini = path.resolve(path.dirname(BIN), '../data/fashion-mnist-mini');
  const args = ['train', mini, '--out', path.join(dir, 'run'), '--epochs', '3', '--train-per-class', '60', '--widths', '8', '--embedding-dim', '8', '-q'];
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  // Interrupt once the first epoch's checkpoint exists: two more epochs (measured ~2.6 s each on 2 idle cores, slower
  // under load like the poll itself) remain, against a 100 ms poll. A child that ends first fails here, not by hanging.
  const ckpt = path.join(dir, 'run', 'checkpoints', 'epoch-0001.ckpt');
  while (!(await fs.access(ckpt).then(() => true, () => false))) {
    assert.equal(child.exitCode, null, `visid train ended before its first checkpoint: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGINT');
  const code = await new Promise<number>((r) => child.on('close', (c) => r(c ?? -1)));
  assert.equal(code, 130, stderr);
  assert.match(stderr, /training stopped during epoch [23]; checkpoints up to epoch [12] are saved/);
  const resumed = await visid([...args, '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal((await fs.readdir(path.join(dir, 'run', 'checkpoints'))).length, 3);
});
