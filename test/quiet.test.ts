// No third-party banner on any visid command's output, and `-q` leaves nothing but results and errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, writeChannelMeanModel, writeSolid } from './helpers.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/visid.js');
const MINI = path.resolve(path.dirname(BIN), '../data/fashion-mnist-mini');
/** What TensorFlow.js prints in Node the first time its CPU backend holds data. */
const TFJS_BANNER = /looks like you are running TensorFlow\.js|tfjs-node for more details/;

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 240_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, stdout, stderr });
    });
  });
}

test('visid train on the TensorFlow.js CPU backend prints no tfjs banner; -q prints only the results', async (t) => {
  const dir = tempDir(t, 'visid-quiet-');
  const cfg = path.join(dir, 'tiny.yaml');
  await fs.writeFile(cfg, [`data: ${MINI}`, `out: ${path.join(dir, 'run')}`, 'trainPerClass: 4', 'valPerClass: 2', 'epochs: 1', 'batchSize: 20', 'embeddingDim: 8', 'model: { type: resnet, widths: [4] }', 'loss: { name: cosface, scale: 16 }', 'seed: 3'].join('\n'));
  const quiet = await cli(['train', '--config', cfg, '--backend', 'cpu', '-q']);
  assert.equal(quiet.code, 0, quiet.stderr);
  assert.doesNotMatch(quiet.stdout + quiet.stderr, TFJS_BANNER);
  assert.equal(quiet.stderr, '', 'nothing on stderr with -q');
  assert.deepEqual(
    quiet.stdout.trim().split('\n').map((l) => l.split(/[: ]/)[0]),
    ['backend', 'untrained', 'trained', 'model', 'report'],
    quiet.stdout,
  );
  // The banner is still TensorFlow.js' to print when asked for (VISID_TF_WARNINGS=1): the check above can fail.
  const loud = await cli(['train', '--config', cfg, '--backend', 'cpu', '-q'], { VISID_TF_WARNINGS: '1' });
  assert.equal(loud.code, 0, loud.stderr);
  assert.match(loud.stderr, TFJS_BANNER);
});

test('-q on index, search and eval: stdout holds the results alone, stderr is empty', async (t) => {
  const dir = tempDir(t, 'visid-quiet-');
  const model = await writeChannelMeanModel(dir);
  await writeSolid(path.join(dir, 'data', 'red', 'a.png'), [220, 10, 10]);
  await writeSolid(path.join(dir, 'data', 'blue', 'b.png'), [10, 10, 220]);
  const g = path.join(dir, 'g');
  const runs = [
    ['index', path.join(dir, 'data'), '--model', model, '--out', g, '-q'],
    ['search', g, path.join(dir, 'data', 'red', 'a.png'), '-k', '1', '-q'],
    ['eval', g, '--queries', path.join(dir, 'data'), '--metrics', 'recall@1', '-q'],
  ];
  for (const args of runs) {
    const r = await cli(args);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', `${args[0]}: nothing on stderr`);
    assert.ok(r.stdout.trim().length > 0, `${args[0]}: prints its result`);
    assert.doesNotMatch(r.stdout, /ETA|img\/s|%\)/, `${args[0]}: no progress on stdout`);
  }
});
