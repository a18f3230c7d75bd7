import { validateConfig } from './dist/src/train/config.js';
import { train } from './dist/src/train/trainer.js';
const extra = JSON.parse(process.argv[2] ?? '{}');
const cfg = validateConfig({ data: '/usr/share/datasets/fashion-mnist', out: '/tmp/run-' + process.pid, trainPerClass: 300, valPerClass: 100, epochs: 3, batchSize: 64, embeddingDim: 64, loss: { name: 'arcface', scale: 16, m2: 0.3 }, model: { type: 'resnet', widths: [16, 32], blocksPerStage: 1 }, augment: { flip: true, shift: 2 }, ...extra }, 'try');
const t0 = Date.now();
const r = await train(cfg, { quiet: true });
console.log(JSON.stringify(extra), 'untrained', r.untrained['recall@1'], r.history.map((h) => h['recall@1'].toFixed(3)).join(' '), 'total s', (Date.now() - t0) / 1000);
