// ColorJitter: random brightness, contrast (around the mean grey), saturation (around the luma) and hue shift, in random order (torchvision semantics).
import { clampByte, num, uniform, type AugmentOp, type RgbImage, type Random } from '../op.js';

function rgbToHsv(r: number, g: number, b: number): [number, number, number] {
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const d = max - min;
  let h = 0;
  if (d > 0) {
    if (max === r) h = ((g - b) / d) % 6;
    else if (max === g) h = (b - r) / d + 2;
    else h = (r - g) / d + 4;
    h /= 6;
    if (h < 0) h += 1;
  }
  return [h, max === 0 ? 0 : d / max, max];
}

function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const i = Math.floor(h * 6);
  const f = h * 6 - i;
  const p = v * (1 - s);
  const q = v * (1 - f * s);
  const t = v * (1 - (1 - f) * s);
  switch (((i % 6) + 6) % 6) {
    case 0: return [v, t, p];
    case 1: return [q, v, p];
    case 2: return [p, v, t];
    case 3: return [p, q, v];
    case 4: return [t, p, v];
    default: return [v, p, q];
  }
}

export function colorJitter(params: Record<string, unknown> = {}): AugmentOp {
  const b = num(params, 'brightness', 0.2, 'ColorJitter', (v) => v >= 0);
  const c = num(params, 'contrast', 0.2, 'ColorJitter', (v) => v >= 0);
  const s = num(params, 'saturation', 0.2, 'ColorJitter', (v) => v >= 0);
  const hue = num(params, 'hue', 0.05, 'ColorJitter', (v) => v >= 0 && v <= 0.5);
  return {
    name: 'ColorJitter',
    params,
    apply(img: RgbImage, random: Random): RgbImage {
      const data = Float32Array.from(img.data);
      const steps: Array<() => void> = [];
      const bf = uniform(random, Math.max(0, 1 - b), 1 + b);
      const cf = uniform(random, Math.max(0, 1 - c), 1 + c);
      const sf = uniform(random, Math.max(0, 1 - s), 1 + s);
      const hf = uniform(random, -hue, hue);
      steps.push(() => { for (let i = 0; i < data.length; i++) data[i] = data[i]! * bf; });
      steps.push(() => {
        let mean = 0;
        for (let i = 0; i < data.length; i += 3) mean += 0.299 * data[i]! + 0.587 * data[i + 1]! + 0.114 * data[i + 2]!;
        mean /= data.length / 3;
        for (let i = 0; i < data.length; i++) data[i] = mean + (data[i]! - mean) * cf;
      });
      steps.push(() => {
        for (let i = 0; i < data.length; i += 3) {
          const y = 0.299 * data[i]! + 0.587 * data[i + 1]! + 0.114 * data[i + 2]!;
          for (let k = 0; k < 3; k++) data[i + k] = y + (data[i + k]! - y) * sf;
        }
      });
      steps.push(() => {
        if (hf === 0) return;
        for (let i = 0; i < data.length; i += 3) {
          const [h, sat, v] = rgbToHsv(Math.max(0, Math.min(255, data[i]!)) / 255, Math.max(0, Math.min(255, data[i + 1]!)) / 255, Math.max(0, Math.min(255, data[i + 2]!)) / 255);
          const [r, g, bb] = hsvToRgb((h + hf + 1) % 1, sat, v);
          data[i] = r * 255;
          data[i + 1] = g * 255;
          data[i + 2] = bb * 255;
        }
      });
      // Random order, as torchvision applies them.
      for (let i = steps.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [steps[i], steps[j]] = [steps[j]!, steps[i]!];
      }
      for (const step of steps) step();
      return { data: Uint8Array.from(data, clampByte), width: img.width, height: img.height };
    },
  };
}
