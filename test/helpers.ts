// Test helpers: temporary folders, tiny real ONNX models, real image files written by sharp.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import sharp from 'sharp';
import { OnnxGraph } from '../src/formats/onnx-graph.js';
import { Embedder } from '../src/models/embedder.js';
import { loadDataset } from '../src/data/load.js';
import { indexDataset } from '../src/pipeline/index-dataset.js';
import type { RgbImage } from '../src/images/decode.js';
import { mulberry32 } from '../src/util/random.js';

export function tempDir(t: { after: (fn: () => void) => void }, prefix = 'visid-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A real ONNX model: per-channel global average of the normalised input, [N,3,H,W] → [N,3].
 * Its descriptor of a solid-colour image is known by hand: ((c/255 − mean)/std) per channel, L2-normalised.
 */
export async function writeChannelMeanModel(dir: string, card: object = {}, name = 'mean'): Promise<string> {
  const g = new OnnxGraph(`channel_mean_${name}`);
  const x = g.input('pixels', ['N', 3, 'H', 'W']);
  const pooled = g.node('GlobalAveragePool', [x]);
  g.node('Flatten', [pooled], { axis: 1 }, ['descriptor']);
  g.output('descriptor', ['N', 3]);
  const file = path.join(dir, `${name}.onnx`);
  await fs.writeFile(file, g.toBytes());
  await fs.writeFile(path.join(dir, `${name}.json`), JSON.stringify({ name, inputSize: [8, 8], mean: [0, 0, 0], std: [1, 1, 1], resize: 'exact', outputDim: 3, ...card }));
  return file;
}

/** Writes a solid-colour image; the format follows the extension. */
export async function writeSolid(file: string, rgb: [number, number, number], width = 32, height = 24): Promise<string> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).toFile(file);
  return file;
}

/** The channel-mean model's descriptor of a solid colour with mean 0 / std 1 normalisation. */
export function expectedColourDescriptor(rgb: [number, number, number]): number[] {
  const v = rgb.map((c) => c / 255);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5, message = ''): void {
  if (actual.length !== expected.length) throw new Error(`${message} length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    if (!(Math.abs(actual[i]! - expected[i]!) <= tol)) {
      throw new Error(`${message} at ${i}: ${actual[i]} != ${expected[i]} (tol ${tol})`);
    }
  }
}

/**
 * A small real gallery in `<dir>/colours`: solid-colour PNGs red/0 (250,10,10), red/1 (220,30,20),
 * green/0 (10,240,10), blue/0 (0,20,250) under `<dir>/data`, embedded by the channel-mean model.
 */
export async function writeColourGallery(dir: string): Promise<string> {
  const model = await writeChannelMeanModel(dir);
  const data = path.join(dir, 'data');
  await writeSolid(path.join(data, 'red', '0.png'), [250, 10, 10]);
  await writeSolid(path.join(data, 'red', '1.png'), [220, 30, 20]);
  await writeSolid(path.join(data, 'green', '0.png'), [10, 240, 10]);
  await writeSolid(path.join(data, 'blue', '0.png'), [0, 20, 250]);
  const embedder = await Embedder.load(model, { workers: 0 });
  const gallery = path.join(dir, 'colours');
  await indexDataset(await loadDataset(data), embedder, gallery);
  await embedder.close();
  return gallery;
}

/** An in-memory solid-colour RGB image. */
export function solidImage(w: number, h: number, rgb: [number, number, number]): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) data.set(rgb, i * 3);
  return { data, width: w, height: h };
}

/** An in-memory image of seeded uniform noise. */
export function noiseImage(w: number, h: number, seed = 1): RgbImage {
  const r = mulberry32(seed);
  return { data: Uint8Array.from({ length: w * h * 3 }, () => Math.floor(r() * 256)), width: w, height: h };
}
