// An augmentation pipeline declared in config (op, probability p, parameters): built once, applied per sample with a seeded RNG.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { VisidError } from '../util/errors.js';
import { mulberry32 } from '../util/random.js';
import type { AugmentOp, RgbImage, Random } from './op.js';
import { horizontalFlip } from './ops/horizontal-flip.js';
import { resize } from './ops/resize.js';
import { randomResizedCrop } from './ops/random-resized-crop.js';
import { randomBrightness } from './ops/brightness.js';
import { randomContrast } from './ops/contrast.js';
import { randomGamma } from './ops/gamma.js';
import { darken } from './ops/darken.js';
import { grayscale } from './ops/grayscale.js';
import { colorJitter } from './ops/color-jitter.js';
import { gaussianBlur } from './ops/gaussian-blur.js';
import { shiftScaleRotate } from './ops/shift-scale-rotate.js';
import { rotate } from './ops/rotate.js';
import { perspective } from './ops/perspective.js';
import { pad } from './ops/pad.js';
import { coarseDropout, redOcclusion } from './ops/coarse-dropout.js';
import { loadMasks, maskOcclusion } from './ops/mask-occlusion.js';
import { pixelize } from './ops/pixelize.js';
import { pixelShuffle } from './ops/pixel-shuffle.js';
import { jpegQuality } from './ops/jpeg-quality.js';
import { emojiOverlay } from './ops/emoji-overlay.js';
import { textOverlay } from './ops/text-overlay.js';
import { imageOverlay, imageUnderlay } from './ops/image-overlay.js';
import { loadEmoji, loadImageSprites, loadTextSprites } from './sprites.js';

/** One step as written in a config: { op: 'HorizontalFlip', p: 0.5, ...parameters }. OneOf takes `ops`. */
export interface StepSpec {
  op: string;
  p?: number;
  [param: string]: unknown;
}

type Factory = (params: Record<string, unknown>) => AugmentOp;

const OPS: Record<string, Factory> = {
  HorizontalFlip: horizontalFlip,
  Resize: resize,
  RandomResizedCrop: randomResizedCrop,
  RandomBrightness: randomBrightness,
  RandomContrast: randomContrast,
  RandomGamma: randomGamma,
  Darken: darken,
  Grayscale: grayscale,
  ColorJitter: colorJitter,
  GaussianBlur: gaussianBlur,
  ShiftScaleRotate: shiftScaleRotate,
  Rotate: rotate,
  Perspective: perspective,
  Pad: pad,
  CoarseDropout: coarseDropout,
  RedOcclusion: redOcclusion,
  Pixelize: pixelize,
  PixelShuffle: pixelShuffle,
  JpegQuality: jpegQuality,
};

/** Ops that load assets (masks, emoji, fonts, other photos) once, when the pipeline is built. */
type AssetFactory = (params: Record<string, unknown>, baseDir: string) => Promise<AugmentOp>;

function count(params: Record<string, unknown>, fallback: number): number {
  const v = params.count ?? fallback;
  if (!Number.isInteger(v) || (v as number) < 1) throw new Error(`'count' must be a positive integer, got ${JSON.stringify(v)}`);
  return v as number;
}

function assetSeed(params: Record<string, unknown>): number {
  return Number.isInteger(params.assetSeed) ? (params.assetSeed as number) : 0;
}

/** Photos for ImageOverlay/ImageUnderlay: a folder (`dir`), or random gradients when none is named. */
async function otherImages(params: Record<string, unknown>, baseDir: string) {
  if (params.dir === undefined) return [];
  if (typeof params.dir !== 'string') throw new Error(`'dir' must name a folder of images`);
  return loadImageSprites(path.resolve(baseDir, params.dir), count(params, 500));
}

const ASSET_OPS: Record<string, AssetFactory> = {
  MaskOcclusion: async (params, baseDir) => {
    if (typeof params.dir !== 'string') throw new Error(`'dir' must name a folder of mask PNGs`);
    return maskOcclusion(params, await loadMasks(path.resolve(baseDir, params.dir)));
  },
  EmojiOverlay: async (params) => emojiOverlay(params, await loadEmoji(count(params, 48), assetSeed(params))),
  TextOverlay: async (params) => textOverlay(params, await loadTextSprites(count(params, 32), assetSeed(params))),
  ImageOverlay: async (params, baseDir) => imageOverlay(params, await otherImages(params, baseDir)),
  ImageUnderlay: async (params, baseDir) => imageUnderlay(params, await otherImages(params, baseDir)),
};

export const OP_NAMES = [...Object.keys(OPS), ...Object.keys(ASSET_OPS), 'OneOf', 'Normalize'];

interface Step {
  op: AugmentOp;
  p: number;
}

/** An op that can say which ops it ran (OneOf names the child it chose). */
interface TracedOp extends AugmentOp {
  applyTraced(image: RgbImage, random: Random, trace?: string[]): RgbImage;
}

function applyStep(op: AugmentOp, img: RgbImage, random: Random, trace?: string[]): RgbImage {
  if (trace && 'applyTraced' in op) return (op as TracedOp).applyTraced(img, random, trace);
  trace?.push(op.name);
  return op.apply(img, random);
}

/** OneOf: applies exactly one of its ops, chosen with probability proportional to their p. */
function oneOf(children: Step[], params: Record<string, unknown>): AugmentOp {
  const total = children.reduce((s, c) => s + c.p, 0);
  const op: TracedOp = {
    name: 'OneOf',
    params,
    apply: (img: RgbImage, random: Random) => op.applyTraced(img, random),
    applyTraced(img: RgbImage, random: Random, trace?: string[]) {
      let r = random() * total;
      for (const c of children) {
        r -= c.p;
        if (r < 0) return applyStep(c.op, img, random, trace);
      }
      return applyStep(children.at(-1)!.op, img, random, trace);
    },
  };
  return op;
}

export class AugmentPipeline {
  private constructor(
    private readonly steps: Step[],
    /** Per-channel mean/std in [0, 1] units from a Normalize step, for whoever turns images into tensors. */
    readonly normalization: { mean: [number, number, number]; std: [number, number, number] } | undefined,
    readonly spec: StepSpec[],
  ) {}

  /** Builds a pipeline; `baseDir` resolves the folders of MaskOcclusion and the image overlays. Errors name the step and the parameter. */
  static async create(spec: StepSpec[], baseDir = process.cwd()): Promise<AugmentPipeline> {
    if (!Array.isArray(spec)) throw new VisidError('E_INPUT', 'an augmentation pipeline is a list of steps ({ op, p, ...parameters })');
    let normalization: AugmentPipeline['normalization'];
    const build = async (list: StepSpec[], where: string): Promise<Step[]> => {
      const steps: Step[] = [];
      for (const [i, s] of list.entries()) {
        const at = `${where}[${i}]`;
        if (typeof s !== 'object' || s === null || typeof s.op !== 'string') throw new VisidError('E_INPUT', `augmentation step ${at} needs an 'op' name`);
        const { op, p = 1, ...params } = s;
        if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new VisidError('E_INPUT', `augmentation step ${at} (${op}): p must lie in [0, 1]`);
        try {
          if (op === 'Normalize') {
            const triple = (v: unknown, key: string, positive: boolean) => {
              if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0))) throw new Error(`'${key}' must be three ${positive ? 'positive ' : ''}numbers`);
              return v as [number, number, number];
            };
            normalization = { mean: triple(params.mean ?? [0.485, 0.456, 0.406], 'mean', false), std: triple(params.std ?? [0.229, 0.224, 0.225], 'std', true) };
            continue;
          }
          if (op === 'OneOf') {
            if (!Array.isArray(params.ops) || params.ops.length === 0) throw new Error(`'ops' must be a non-empty list of steps`);
            steps.push({ op: oneOf(await build(params.ops as StepSpec[], `${at}.ops`), params), p });
            continue;
          }
          const assetFactory = ASSET_OPS[op];
          if (assetFactory) {
            steps.push({ op: await assetFactory(params, baseDir), p });
            continue;
          }
          const factory = OPS[op];
          if (!factory) throw new Error(`unknown op (known: ${OP_NAMES.join(', ')})`);
          steps.push({ op: factory(params), p });
        } catch (err) {
          if (err instanceof VisidError && err.message.startsWith('augmentation step')) throw err;
          throw new VisidError('E_INPUT', `augmentation step ${at} (${op}): ${(err as Error).message.replace(/^augmentation \w+: /, '')}`);
        }
      }
      return steps;
    };
    const steps = await build(spec, 'steps');
    return new AugmentPipeline(steps, normalization, spec);
  }

  /** Reads a pipeline from a JSON or YAML file: a list of steps, or { pipeline: [...] }. */
  static async fromFile(file: string): Promise<AugmentPipeline> {
    const text = await fs.readFile(file, 'utf8').catch(() => {
      throw new VisidError('E_NOT_FOUND', 'augmentation config does not exist', { item: file });
    });
    let raw: unknown;
    try {
      raw = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
    } catch (err) {
      throw new VisidError('E_INPUT', `augmentation config is not valid: ${(err as Error).message}`, { item: file });
    }
    const list = Array.isArray(raw) ? raw : (raw as { pipeline?: unknown })?.pipeline;
    try {
      return await AugmentPipeline.create(list as StepSpec[], path.dirname(file));
    } catch (err) {
      // Name the file: a step index alone does not say which config is wrong.
      if (err instanceof VisidError && !err.item) throw new VisidError(err.code, err.message, { item: file, cause: err });
      throw err;
    }
  }

  /** Applies every step (each with its probability) with `random`; `trace` collects the names of the ops run. */
  apply(image: RgbImage, random: Random, trace?: string[]): RgbImage {
    let img = image;
    for (const s of this.steps) if (s.p >= 1 || random() < s.p) img = applyStep(s.op, img, random, trace);
    return img;
  }

  /** Applies with a generator seeded from (seed, sample, epoch): the same triple gives the same output. */
  applySeeded(image: RgbImage, seed: number, sample: number, epoch = 0, trace?: string[]): RgbImage {
    return this.apply(image, mulberry32((Math.imul(seed, 0x9e3779b1) ^ Math.imul(sample + 1, 0x85ebca6b) ^ Math.imul(epoch + 1, 0xc2b2ae35)) >>> 0), trace);
  }

  /** One line per step, for training logs. */
  describe(): string {
    return this.spec.map((s) => `  ${JSON.stringify(s)}`).join('\n');
  }
}
