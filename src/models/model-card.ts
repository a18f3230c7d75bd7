// The model card: a small JSON file beside an .onnx model saying how to feed it (size, layout, mean/std, names).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { VisidError } from '../util/errors.js';
import type { Layout } from '../images/tensor.js';
import type { ResizeMode } from '../images/decode.js';

export interface ModelCard {
  name: string;
  /** Input height and width in pixels. */
  inputSize: [number, number];
  layout: Layout;
  /** Per-channel mean and std in [0,1] pixel units. */
  mean: [number, number, number];
  std: [number, number, number];
  resize: ResizeMode;
  /** Input and output tensor names (default: the model's first input and output). */
  inputName?: string;
  outputName?: string;
  /** Expected descriptor length; checked on every run when given. */
  outputDim?: number;
  /** Free text: what the model is and where its weights come from. */
  description?: string;
  /** Cosine-similarity threshold for same/different decisions, when the model has one. */
  verificationThreshold?: number;
}

export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

const DEFAULT_CARD: Omit<ModelCard, 'name'> = {
  inputSize: [224, 224],
  layout: 'NCHW',
  mean: IMAGENET_MEAN,
  std: IMAGENET_STD,
  resize: 'shorter-crop',
};

function triple(v: unknown, key: string, file: string): [number, number, number] {
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new VisidError('E_MODEL', `'${key}' must be three numbers`, { item: file });
  }
  return v as [number, number, number];
}

/** Checks a card (from JSON or flags); `file` names it in errors. */
export function validateCard(raw: Record<string, unknown>, file: string): ModelCard {
  const card = { ...DEFAULT_CARD, ...raw } as Record<string, unknown>;
  const size = card['inputSize'];
  if (!Array.isArray(size) || size.length !== 2 || !size.every((x) => Number.isInteger(x) && x > 0)) {
    throw new VisidError('E_MODEL', `'inputSize' must be [height, width] in pixels`, { item: file });
  }
  if (card['layout'] !== 'NCHW' && card['layout'] !== 'NHWC') throw new VisidError('E_MODEL', `'layout' must be NCHW or NHWC`, { item: file });
  if (card['resize'] !== 'exact' && card['resize'] !== 'shorter-crop') throw new VisidError('E_MODEL', `'resize' must be exact or shorter-crop`, { item: file });
  const std = triple(card['std'], 'std', file);
  if (std.some((s) => s <= 0)) throw new VisidError('E_MODEL', `'std' must be positive`, { item: file });
  const outputDim = card['outputDim'];
  if (outputDim !== undefined && !(Number.isInteger(outputDim) && (outputDim as number) > 0)) {
    throw new VisidError('E_MODEL', `'outputDim' must be a positive integer`, { item: file });
  }
  return {
    ...(card as unknown as ModelCard),
    name: typeof card['name'] === 'string' ? (card['name'] as string) : path.basename(file).replace(/\.(onnx|json)$/i, ''),
    inputSize: [size[0], size[1]],
    mean: triple(card['mean'], 'mean', file),
    std,
  };
}

/** The card file that belongs to `modelPath`: model.json, then model.card.json. */
export function cardPathFor(modelPath: string): string[] {
  const base = modelPath.replace(/\.onnx$/i, '');
  return [`${base}.json`, `${base}.card.json`];
}

/** Reads the card beside the model (if any) and applies `overrides` on top. */
export async function loadCard(modelPath: string, overrides: Partial<ModelCard> = {}): Promise<ModelCard> {
  for (const file of cardPathFor(modelPath)) {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch {
      continue;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new VisidError('E_MODEL', `model card is not valid JSON: ${(err as Error).message}`, { item: file });
    }
    if (typeof raw !== 'object' || raw === null) throw new VisidError('E_MODEL', 'model card must be a JSON object', { item: file });
    return validateCard({ ...(raw as Record<string, unknown>), ...stripUndefined(overrides) }, file);
  }
  return validateCard(stripUndefined(overrides), modelPath);
}

function stripUndefined(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
