// The face pipeline on onnxruntime: detect (SSD-MobileNetV1) → 68 landmarks → aligned chip → descriptor, for batches
// of photos, with onnxruntime's threads. The networks are face-api's, rebuilt as ONNX (face-api-onnx.ts), and the
// recognizer is chosen by name (recognizers.ts). face-api's own tfjs pipeline (faces.ts) is kept as the test oracle.
import { availableParallelism } from 'node:os';
import { promises as fs } from 'node:fs';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { VisidError } from '../../util/errors.js';
import { l2NormalizeRows } from '../../util/vectors.js';
import type { RgbImage } from '../../images/decode.js';
import { builtModelPath, PACKAGE_MODELS_DIR } from '../../models/default-files.js';
import { packagePath } from '../../util/package-root.js';
import { type AlignmentTemplate, chipToImageTransform, fivePointsFrom68, type Affine, type Point, sampleChw, zoomTemplate } from './align.js';
import {
  buildFaceDetectorModel,
  buildFaceLandmarkModel,
  decodeSsdBoxes,
  FACE_DETECTOR_MODEL_NAME,
  FACE_LANDMARK_MODEL_NAME,
  nonMaxSuppression,
  ssdAnchors,
} from './face-api-onnx.js';
import { recognizerModelPath, recognizerSpec, type RecognizerName, type RecognizerSpec } from './recognizers.js';

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface DetectedFace {
  box: Box;
  /** Detector score; 0 for a fallback face (no detection, a centred crop of the expected size). */
  score: number;
  /** 68 landmarks (iBUG layout) in image pixels. */
  landmarks: Point[];
  /** Eye centres, nose tip, mouth corners. */
  five: Point[];
}

export interface DetectOptions {
  /** Detector score threshold (default 0.5). */
  minScore?: number;
  /** Smallest face side in pixels of the original image (default 24). */
  minSize?: number;
  /** Photos are shrunk (by sharp) to this longest side before detection; coordinates come back in full resolution. */
  maxSide?: number;
  maxFaces?: number;
  /** Side of the detector's square input (default 512, as face-api runs it). */
  detectorSize?: number;
  /**
   * Landmark passes (default 1): the second runs the landmark net again on the box the first pass's landmarks
   * imply, the box it sees on average (measured on LFW View 1 DevTrain), so that a loose or shifted detection box
   * does not shift the landmarks.
   */
  landmarkPasses?: number;
  /**
   * Canvas sizes tried in turn until a face is found, as multiples of the photo's longest side, the photo centred
   * on a black canvas (default [1, 2]). The detector, trained on WIDER FACE, misses faces that fill most of the
   * frame — a portrait or an LFW photo — and finds them once the photo sits in a canvas twice its size.
   */
  contexts?: number[];
}

export interface EngineOptions {
  recognizer?: RecognizerName;
  /** onnxruntime threads per session (default: every core). */
  threads?: number;
  /** Where the built models are kept (default the package's models/, or the user cache). */
  modelsDir?: string;
}

export interface EmbedOptions {
  /**
   * Test-time views averaged into one descriptor (unit descriptors summed, then L2-normalised): the mirrored chip
   * (`flip`) and the chip at other zooms about its centre (`zooms`, 1 = the template as it is). A deterministic
   * stand-in for dlib's jittering (random crops, scales and flips averaged; dlib: 99.13 % on LFW without, 99.38 %
   * with). Default: the recognizer's `testTime`.
   */
  flip?: boolean;
  zooms?: number[];
  /** One view only (no flip, zoom 1): the fastest, a little less accurate. */
  single?: boolean;
}

const DEFAULT_CONTEXTS = [1, 2];
/** Median side of the detected face box over the shorter photo side on LFW View 1 DevTrain (650 confident faces). */
export const FALLBACK_FACE_FRACTION = 0.47;

/**
 * The box the landmark net sees on average around its own landmarks, measured on LFW View 1 DevTrain (650
 * confident detections): centred 0.207·s above the landmarks' centroid, 3.24·s on a side, s the landmarks' RMS
 * distance to their centroid.
 */
export function landmarkBox(landmarks: readonly Point[]): Box {
  const n = landmarks.length;
  const cx = landmarks.reduce((a, p) => a + p[0], 0) / n;
  const cy = landmarks.reduce((a, p) => a + p[1], 0) / n;
  const s = Math.sqrt(landmarks.reduce((a, p) => a + (p[0] - cx) ** 2 + (p[1] - cy) ** 2, 0) / n);
  const side = 3.24 * s;
  return { x: cx - side / 2, y: cy - 0.207 * s - side / 2, width: side, height: side };
}
/** Batches of at most this many images per onnxruntime run (bounded memory for any number of photos). */
const MAX_BATCH = 16;

async function session(file: string | Uint8Array, threads: number): Promise<ort.InferenceSession> {
  const bytes = typeof file === 'string' ? await fs.readFile(file) : file;
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // Spinning threads would steal the core the JavaScript sampling needs between runs.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
}

async function run(s: ort.InferenceSession, input: Float32Array, dims: number[]): Promise<ort.InferenceSession.OnnxValueMapType> {
  return s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', input, dims) });
}

/** The face whose box centre is nearest the image centre (the LFW protocol's face: one person per photo). */
export function nearestCentreFace<T extends { box: Box }>(faces: readonly T[], width: number, height: number): T | undefined {
  let best: T | undefined;
  let bestD = Infinity;
  for (const f of faces) {
    const d = Math.hypot(f.box.x + f.box.width / 2 - width / 2, f.box.y + f.box.height / 2 - height / 2);
    if (d < bestD) {
      bestD = d;
      best = f;
    }
  }
  return best;
}

export class FaceEngine {
  private readonly anchorCache = new Map<number, Float32Array>();

  private constructor(
    readonly recognizer: RecognizerSpec,
    private readonly detector: ort.InferenceSession,
    private readonly landmarker: ort.InferenceSession,
    private readonly embedder: ort.InferenceSession,
    private readonly centre: Float32Array | undefined,
  ) {}

  static async load(options: EngineOptions = {}): Promise<FaceEngine> {
    const spec = recognizerSpec(options.recognizer);
    const dir = options.modelsDir ?? PACKAGE_MODELS_DIR;
    const threads = options.threads ?? availableParallelism();
    const [det, lm, rec] = await Promise.all([
      builtModelPath(dir, FACE_DETECTOR_MODEL_NAME, () => buildFaceDetectorModel()),
      builtModelPath(dir, FACE_LANDMARK_MODEL_NAME, () => buildFaceLandmarkModel()),
      recognizerModelPath(spec, dir),
    ]);
    const load = async (file: string) => {
      try {
        return await session(file, threads);
      } catch (err) {
        throw new VisidError('E_MODEL', `onnxruntime cannot load the face model: ${(err as Error).message}`, { item: file, cause: err });
      }
    };
    return new FaceEngine(spec, await load(det), await load(lm), await load(rec), spec.centre ? await readCentre(spec) : undefined);
  }

  /** A stable id of the recognition model, so galleries refuse descriptors of another one. */
  get modelId(): string {
    return `visid-face-${this.recognizer.name}-${this.recognizer.modelName}`;
  }

  private anchors(side: number): Float32Array {
    let a = this.anchorCache.get(side);
    if (!a) this.anchorCache.set(side, (a = ssdAnchors(side)));
    return a;
  }

  /** Every face of each photo (best score first), with its landmarks. */
  async detect(images: readonly RgbImage[], options: DetectOptions = {}): Promise<DetectedFace[][]> {
    const contexts = options.contexts ?? DEFAULT_CONTEXTS;
    const results: Array<Array<Omit<DetectedFace, 'landmarks' | 'five'>>> = images.map(() => []);
    let pending = images.map((_, i) => i);
    for (const context of contexts) {
      if (pending.length === 0) break;
      const found = await this.detectBoxes(pending.map((i) => images[i]!), context, options);
      pending.forEach((i, j) => (results[i] = found[j]!));
      pending = pending.filter((i) => results[i]!.length === 0);
    }
    await this.landmarks(images, results, options.landmarkPasses ?? 1);
    return results as DetectedFace[][];
  }

  /** Boxes and scores from one detector pass per photo, each photo centred on a canvas `context` × its longest side. */
  private async detectBoxes(images: readonly RgbImage[], context: number, o: DetectOptions): Promise<Array<Array<Omit<DetectedFace, 'landmarks' | 'five'>>>> {
    const side = o.detectorSize ?? 512;
    const maxSide = o.maxSide ?? 1024;
    const minScore = o.minScore ?? 0.5;
    const minSize = o.minSize ?? 24;
    const anchors = this.anchors(side);
    const out: Array<Array<Omit<DetectedFace, 'landmarks' | 'five'>>> = [];
    for (let start = 0; start < images.length; start += MAX_BATCH) {
      const batch = images.slice(start, start + MAX_BATCH);
      const input = new Float32Array(batch.length * 3 * side * side);
      const geometry: Array<{ canvas: number; ox: number; oy: number; scale: number }> = [];
      for (let b = 0; b < batch.length; b++) {
        let img = batch[b]!;
        // Large photos are shrunk by sharp first (area-averaged), so the bilinear sampling below does not alias.
        let scale = 1;
        if (Math.max(img.width, img.height) > maxSide) {
          scale = maxSide / Math.max(img.width, img.height);
          img = await shrink(img, scale);
        }
        const canvas = Math.max(img.width, img.height) * context;
        const ox = (canvas - img.width) / 2;
        const oy = (canvas - img.height) / 2;
        const k = canvas / side;
        // Output pixel (u, v) is canvas point ((u + ½)k, (v + ½)k), i.e. image pixel (that − ½ − offset).
        const map: Affine = [k, 0, k / 2 - 0.5 - ox, 0, k, k / 2 - 0.5 - oy];
        sampleChw(img, map, side, side, input, b * 3 * side * side);
        geometry.push({ canvas, ox, oy, scale });
      }
      const r = await run(this.detector, input, [batch.length, 3, side, side]);
      const encodings = r['box_encodings']!.data as Float32Array;
      const scores = r['scores']!.data as Float32Array;
      const n = anchors.length / 4;
      for (let b = 0; b < batch.length; b++) {
        const boxes = decodeSsdBoxes(encodings.subarray(b * n * 4, (b + 1) * n * 4), anchors);
        const s = scores.subarray(b * n, (b + 1) * n);
        const keep = nonMaxSuppression(boxes, s, o.maxFaces ?? 100, 0.5, minScore);
        const { canvas, ox, oy, scale } = geometry[b]!;
        const img = batch[b]!;
        const faces = keep
          .map((i) => {
            // Canvas-normalised [ymin, xmin, ymax, xmax] → full-resolution image pixels, clipped to the photo.
            const x0 = Math.max(0, (boxes[4 * i + 1]! * canvas - ox) / scale);
            const y0 = Math.max(0, (boxes[4 * i]! * canvas - oy) / scale);
            const x1 = Math.min(img.width, (boxes[4 * i + 3]! * canvas - ox) / scale);
            const y1 = Math.min(img.height, (boxes[4 * i + 2]! * canvas - oy) / scale);
            return { box: { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }, score: s[i]! };
          })
          .filter((f) => f.box.width > 0 && f.box.height > 0 && Math.min(f.box.width, f.box.height) >= minSize);
        out.push(faces);
      }
    }
    return out;
  }

  /** Landmarks of every face: one pass on its box, then `passes − 1` passes on the box its landmarks imply. */
  private async landmarks(images: readonly RgbImage[], faces: Array<Array<Omit<DetectedFace, 'landmarks' | 'five'> & Partial<DetectedFace>>>, passes: number): Promise<void> {
    await this.addLandmarks(images, faces, (f) => f.box);
    for (let p = 1; p < passes; p++) await this.addLandmarks(images, faces, (f) => landmarkBox(f.landmarks!));
  }

  /** Runs the landmark net on every face's box (squared about its centre) and fills in landmarks and five points. */
  private async addLandmarks(
    images: readonly RgbImage[],
    faces: Array<Array<Omit<DetectedFace, 'landmarks' | 'five'> & Partial<DetectedFace>>>,
    boxOf: (f: Omit<DetectedFace, 'landmarks' | 'five'> & Partial<DetectedFace>) => Box,
  ): Promise<void> {
    const jobs: Array<{ image: RgbImage; face: Omit<DetectedFace, 'landmarks' | 'five'> & Partial<DetectedFace> }> = [];
    faces.forEach((list, i) => list.forEach((face) => jobs.push({ image: images[i]!, face })));
    const S = 112;
    for (let start = 0; start < jobs.length; start += MAX_BATCH) {
      const batch = jobs.slice(start, start + MAX_BATCH);
      const input = new Float32Array(batch.length * 3 * S * S);
      const squares = batch.map(({ image, face }, b) => {
        // face-api pads the box to a square (centred) and resizes it to 112: the same square, zero outside the photo.
        const box = boxOf(face);
        const side = Math.max(box.width, box.height);
        const x0 = box.x + box.width / 2 - side / 2;
        const y0 = box.y + box.height / 2 - side / 2;
        const k = side / S;
        sampleChw(image, [k, 0, x0 + k / 2 - 0.5, 0, k, y0 + k / 2 - 0.5], S, S, input, b * 3 * S * S);
        return { x0, y0, side };
      });
      const r = await run(this.landmarker, input, [batch.length, 3, S, S]);
      const out = r['landmarks']!.data as Float32Array;
      batch.forEach(({ face }, b) => {
        const { x0, y0, side } = squares[b]!;
        const points: Point[] = [];
        for (let p = 0; p < 68; p++) points.push([x0 + out[b * 136 + 2 * p]! * side - 0.5, y0 + out[b * 136 + 2 * p + 1]! * side - 0.5]);
        face.landmarks = points;
        face.five = fivePointsFrom68(points);
      });
    }
  }

  /**
   * The fallback face of a photo where the detector found none: a centred square of `fraction` × the shorter side
   * (the median detected face on LFW View 1 DevTrain), landmarks from the landmark net on it.
   */
  async fallbackFace(image: RgbImage, options: { fraction?: number; landmarkPasses?: number } = {}): Promise<DetectedFace> {
    const side = (options.fraction ?? FALLBACK_FACE_FRACTION) * Math.min(image.width, image.height);
    const face = { box: { x: (image.width - side) / 2, y: (image.height - side) / 2, width: side, height: side }, score: 0 };
    const list: Array<Array<Omit<DetectedFace, 'landmarks' | 'five'>>> = [[face]];
    await this.landmarks([image], list, options.landmarkPasses ?? 1);
    return list[0]![0] as DetectedFace;
  }

  /** The aligned chip of one face for this engine's recognizer (RGB, chip size²), e.g. to look at it. */
  chip(image: RgbImage, face: DetectedFace): RgbImage {
    const S = this.recognizer.template.size;
    const planes = new Float32Array(3 * S * S);
    sampleChw(image, chipToImageTransform(face.landmarks, this.recognizer.template), S, S, planes);
    const data = new Uint8Array(3 * S * S);
    for (let i = 0; i < S * S; i++) for (let c = 0; c < 3; c++) data[3 * i + c] = Math.max(0, Math.min(255, Math.round(planes[c * S * S + i]!)));
    return { data, width: S, height: S };
  }

  /** The test-time views `options` ask for: [mirror, template] pairs. */
  private views(options: EmbedOptions): Array<{ mirror: boolean; template: AlignmentTemplate }> {
    const spec = this.recognizer;
    const flip = options.single ? false : (options.flip ?? spec.testTime.flip);
    const zooms = options.single ? [1] : (options.zooms ?? spec.testTime.zooms);
    if (zooms.length === 0 || zooms.some((z) => !(z > 0) || !Number.isFinite(z))) throw new VisidError('E_INPUT', `zooms must be positive numbers, got [${zooms}]`);
    return zooms.flatMap((z) => {
      const template = zoomTemplate(spec.template, z);
      return flip ? [{ mirror: false, template }, { mirror: true, template }] : [{ mirror: false, template }];
    });
  }

  /** Unit descriptors of faces (each with the photo it is in), batched. */
  async embed(items: ReadonlyArray<{ image: RgbImage; face: DetectedFace }>, options: EmbedOptions = {}): Promise<Float32Array[]> {
    const S = this.recognizer.template.size;
    const dim = this.recognizer.dim;
    const views = this.views(options);
    const nv = views.length;
    const per = Math.max(1, Math.floor(MAX_BATCH / nv));
    const out: Float32Array[] = [];
    for (let start = 0; start < items.length; start += per) {
      const batch = items.slice(start, start + per);
      const input = new Float32Array(batch.length * nv * 3 * S * S);
      batch.forEach(({ image, face }, b) => {
        views.forEach((view, v) => sampleChw(image, chipToImageTransform(face.landmarks, view.template), S, S, input, (b * nv + v) * 3 * S * S, view.mirror));
      });
      const r = await run(this.embedder, input, [batch.length * nv, 3, S, S]);
      const y = r['embedding']!.data as Float32Array;
      if (y.length !== batch.length * nv * dim) throw new VisidError('E_MODEL', `recognizer ${this.recognizer.name} gave ${y.length / (batch.length * nv)} values per face, expected ${dim}`);
      for (const v of y) if (!Number.isFinite(v)) throw new VisidError('E_NAN', `recognizer ${this.recognizer.name} produced a non-finite descriptor`);
      const unit = l2NormalizeRows(Float32Array.from(y), dim);
      for (let b = 0; b < batch.length; b++) {
        const d = new Float32Array(dim);
        for (let v = 0; v < nv; v++) for (let i = 0; i < dim; i++) d[i]! += unit[(b * nv + v) * dim + i]!;
        if (this.centre) {
          const u = l2NormalizeRows(d, dim);
          for (let i = 0; i < dim; i++) d[i] = u[i]! - this.centre[i]!;
        }
        out.push(l2NormalizeRows(d, dim));
      }
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.all([this.detector.release(), this.landmarker.release(), this.embedder.release()]);
  }
}

/** A recognizer's descriptor centre, checked: the right length, finite. */
async function readCentre(spec: RecognizerSpec): Promise<Float32Array> {
  const file = packagePath(spec.centre!);
  let parsed: { centre?: unknown };
  try {
    parsed = JSON.parse(await fs.readFile(file, 'utf8')) as { centre?: unknown };
  } catch (err) {
    throw new VisidError('E_MODEL', `cannot read the descriptor centre of ${spec.name}: ${(err as Error).message}`, { item: file, cause: err });
  }
  const c = parsed.centre;
  if (!Array.isArray(c) || c.length !== spec.dim || !c.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new VisidError('E_MODEL', `descriptor centre must be ${spec.dim} finite numbers`, { item: file });
  }
  return Float32Array.from(c as number[]);
}

async function shrink(img: RgbImage, scale: number): Promise<RgbImage> {
  const w = Math.max(1, Math.round(img.width * scale));
  const h = Math.max(1, Math.round(img.height * scale));
  const data = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).resize(w, h, { fit: 'fill' }).raw().toBuffer();
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: w, height: h };
}
