// The training report: loss and validation metrics per epoch as SVG line charts in one self-contained HTML page.
// Consumes the records the trainer emits (records.ts); epoch 0 is the untrained network, as everywhere.
import { lineChart } from '../eval/chart.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { TrainConfig } from './config.js';
import type { EpochRecord } from './records.js';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function writeTrainingReport(file: string, config: TrainConfig, history: EpochRecord[], untrained: Record<string, number>): Promise<void> {
  const epochs = Math.max(1, history.length);
  const maxLoss = Math.max(1e-9, ...history.map((h) => h.loss));
  const ticks = history.map((h): [number, string] => [h.epoch, String(h.epoch)]).filter((_, i, a) => a.length <= 12 || i % Math.ceil(a.length / 12) === 0);
  const lossChart = lineChart(
    history.map((h) => [h.epoch, h.loss / maxLoss]),
    `training loss (÷ ${maxLoss.toPrecision(3)})`,
    'epoch',
    'loss / max',
    epochs,
    { xMin: 1, xTicks: ticks },
  );
  const withBaseline = (key: 'recall@1' | 'map@5'): Array<[number, number]> => [[0, untrained[key] ?? 0], ...history.map((h): [number, number] => [h.epoch, h[key]])];
  const r1 = lineChart(withBaseline('recall@1'), 'validation Recall@1 (epoch 0 = untrained)', 'epoch', 'Recall@1', epochs, { xTicks: ticks, colour: '#c0392b' });
  const map5 = lineChart(withBaseline('map@5'), 'validation MAP@5 (epoch 0 = untrained)', 'epoch', 'MAP@5', epochs, { xTicks: ticks, colour: '#27ae60' });
  const rows = history
    .map((h) => `<tr><td>${h.epoch}</td><td>${h.loss.toFixed(4)}</td><td>${h.lr.toExponential(2)}</td><td>${h['recall@1'].toFixed(4)}</td><td>${h['recall@5'].toFixed(4)}</td><td>${h['map@5'].toFixed(4)}</td><td>${h.samplesPerSecond.toFixed(0)}</td></tr>`)
    .join('');
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>visid training report</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}.charts{display:flex;flex-wrap:wrap;gap:1em}pre{background:#f6f6f6;padding:1em;overflow:auto}</style></head><body>
<h1>Training report</h1>
<p>Untrained network: Recall@1 ${(untrained['recall@1'] ?? 0).toFixed(4)}, MAP@5 ${(untrained['map@5'] ?? 0).toFixed(4)}.</p>
<div class="charts">${lossChart}${r1}${map5}</div>
<h2>Epochs</h2><table><tr><th>epoch</th><th>loss</th><th>lr</th><th>R@1</th><th>R@5</th><th>MAP@5</th><th>samples/s</th></tr>${rows}</table>
<h2>Config</h2><pre>${esc(JSON.stringify(config, null, 2))}</pre></body></html>`;
  await writeFileAtomic(file, html);
}
