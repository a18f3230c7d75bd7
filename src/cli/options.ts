// Shared CLI option parsing: numbers, lists, model-card flags, and loading the embedder that matches a gallery.
import { InvalidArgumentError } from 'commander';
import { VisidError } from '../util/errors.js';
import type { FusionMode } from '../util/vectors.js';
import type { ModelCard } from '../models/model-card.js';
import { DEFAULT_INDEX_MODEL, resolveModelName } from '../models/registry.js';

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`'${value}' is not a positive integer`);
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`'${value}' is not a non-negative integer`);
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`'${value}' is not a positive number`);
  return n;
}

export function numberList(value: string): number[] {
  const list = value.split(',').map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isFinite(n))) throw new InvalidArgumentError(`'${value}' is not a comma-separated list of numbers`);
  return list;
}

export function fusionMode(value: string): FusionMode {
  if (!['avg', 'sum', 'max', 'min'].includes(value)) throw new InvalidArgumentError(`fusion must be avg, sum, max or min`);
  return value as FusionMode;
}

export function inputSize(value: string): [number, number] {
  const m = /^(\d+)(?:x(\d+))?$/.exec(value);
  if (!m) throw new InvalidArgumentError(`'${value}' is not a size like 224 or 224x224 (height x width)`);
  return [Number(m[1]), Number(m[2] ?? m[1])];
}

export interface CardFlags {
  inputSize?: [number, number];
  layout?: 'NCHW' | 'NHWC';
  mean?: number[];
  std?: number[];
  resize?: 'exact' | 'shorter-crop';
  inputName?: string;
  outputName?: string;
}

/** Card overrides given on the command line. */
export function cardFromFlags(o: CardFlags): Partial<ModelCard> {
  const triple = (v: number[] | undefined, name: string) => {
    if (v === undefined) return undefined;
    if (v.length !== 3) throw new VisidError('E_INPUT', `--${name} needs three comma-separated numbers`);
    return v as [number, number, number];
  };
  return {
    inputSize: o.inputSize,
    layout: o.layout,
    mean: triple(o.mean, 'mean'),
    std: triple(o.std, 'std'),
    resize: o.resize,
    inputName: o.inputName,
    outputName: o.outputName,
  };
}

/**
 * A --model value → an ONNX file: a model name (`visid models`; built on first use), or a path. Nothing means
 * `fallback` (visid index: the photo model).
 */
export async function resolveModel(model: string | undefined, fallback = DEFAULT_INDEX_MODEL): Promise<string> {
  return resolveModelName(model ?? fallback);
}

export { embedderForGallery, embedConfigOfGallery } from '../pipeline/gallery-embedder.js';
