// Face tasks on image files with the onnxruntime pipeline (engine.ts): faces of many photos (decode overlapping
// inference), the single face a verification needs, the one face per photo the LFW protocol takes, and the decision.
import { VisidError } from '../../util/errors.js';
import { decodeRgb, type RgbImage } from '../../images/decode.js';
import { FaceEngine, nearestCentreFace, type DetectedFace, type DetectOptions, type EmbedOptions } from './engine.js';
import { recognizerSpec, type RecognizerName } from './recognizers.js';

export interface FaceOptions extends DetectOptions, EmbedOptions {
  /** Pixel limit of the photo (decompression-bomb guard). */
  maxPixels?: number;
}

export interface PhotoFaces {
  /** The photo's path or name. */
  file: string;
  width: number;
  height: number;
  /** Faces, best detection score first, each with its unit descriptor. */
  faces: Array<DetectedFace & { embedding: Float32Array }>;
}

/** Engines by recognizer, loaded once per process (model loading takes about a second). */
const engines = new Map<string, Promise<FaceEngine>>();

export function faceEngine(recognizer?: RecognizerName | string, threads?: number): Promise<FaceEngine> {
  const spec = recognizerSpec(recognizer);
  const key = `${spec.name}:${threads ?? ''}`;
  let e = engines.get(key);
  if (!e) {
    e = FaceEngine.load({ recognizer: spec.name, threads });
    e.catch(() => engines.delete(key));
    engines.set(key, e);
  }
  return e;
}

type Input = string | { name: string; data: Uint8Array };
const nameOf = (input: Input) => (typeof input === 'string' ? input : input.name);

/** Photos decoded this many at a time (one detector batch); the next chunk decodes while this one runs. */
const CHUNK = 16;

/**
 * Runs `perChunk` on decoded photos in chunks of 16, decoding chunk k + 1 (sharp, in libuv's threads) while chunk k
 * is in onnxruntime. A photo that cannot be decoded gives its Error and the rest go on.
 */
async function overChunks<T>(
  inputs: readonly Input[],
  maxPixels: number | undefined,
  perChunk: (images: RgbImage[], names: string[]) => Promise<T[]>,
  onDone?: (n: number) => void,
): Promise<Array<T | Error>> {
  const decodeChunk = (start: number) =>
    Promise.all(inputs.slice(start, start + CHUNK).map((input) => decodeRgb(typeof input === 'string' ? input : input.data, { name: nameOf(input), maxPixels }).catch((e: Error) => e)));
  const out: Array<T | Error> = [];
  let next = inputs.length > 0 ? decodeChunk(0) : Promise.resolve([]);
  for (let start = 0; start < inputs.length; start += CHUNK) {
    const decoded = await next;
    next = start + CHUNK < inputs.length ? decodeChunk(start + CHUNK) : Promise.resolve([]);
    const okIdx = decoded.flatMap((d, i) => (d instanceof Error ? [] : [i]));
    const results = await perChunk(okIdx.map((i) => decoded[i] as RgbImage), okIdx.map((i) => nameOf(inputs[start + i]!)));
    const byIdx = new Map(okIdx.map((i, j) => [i, results[j]!]));
    decoded.forEach((d, i) => out.push(d instanceof Error ? d : byIdx.get(i)!));
    onDone?.(decoded.length);
  }
  return out;
}

/** Every face of every photo with its descriptor (input order; a photo that fails gives its Error). */
export async function facesOfPhotos(engine: FaceEngine, inputs: readonly Input[], options: FaceOptions = {}, onDone?: (n: number) => void): Promise<Array<PhotoFaces | Error>> {
  return overChunks(
    inputs,
    options.maxPixels,
    async (images, names) => {
      const found = await engine.detect(images, options);
      const flat = found.flatMap((faces, i) => faces.map((face) => ({ image: images[i]!, face })));
      const emb = await engine.embed(flat, options);
      let k = 0;
      return found.map((faces, i) => ({ file: names[i]!, width: images[i]!.width, height: images[i]!.height, faces: faces.map((f) => ({ ...f, embedding: emb[k++]! })) }));
    },
    onDone,
  );
}

export interface ProtocolFace {
  file: string;
  embedding: Float32Array;
  face: DetectedFace;
  /** True when no face was detected and the centred crop of the expected size stood in. */
  fallback: boolean;
  /** How many faces the detector found. */
  detected: number;
}

/**
 * One descriptor per photo as the LFW protocol (dlib's and insightface's evaluations) takes it: the detected face
 * nearest the image centre, or, when none is found, the centred crop of the expected face size with landmarks from
 * it (`fallback: true`). Every readable photo gets a descriptor.
 */
export async function protocolFaces(engine: FaceEngine, inputs: readonly Input[], options: FaceOptions = {}, onDone?: (n: number) => void): Promise<Array<ProtocolFace | Error>> {
  return overChunks(
    inputs,
    options.maxPixels,
    async (images, names) => {
      const found = await engine.detect(images, options);
      const chosen: Array<{ face: DetectedFace; fallback: boolean }> = [];
      for (let i = 0; i < images.length; i++) {
        const face = nearestCentreFace(found[i]!, images[i]!.width, images[i]!.height);
        chosen.push(face ? { face, fallback: false } : { face: await engine.fallbackFace(images[i]!, { landmarkPasses: options.landmarkPasses }), fallback: true });
      }
      const emb = await engine.embed(chosen.map((c, i) => ({ image: images[i]!, face: c.face })), options);
      return chosen.map((c, i) => ({ file: names[i]!, embedding: emb[i]!, face: c.face, fallback: c.fallback, detected: found[i]!.length }));
    },
    onDone,
  );
}

/** The one face of a photo's faces, or the error a verification gives when there are none or several. */
export function onlyFace<T>(faces: T[], name: string): T {
  if (faces.length === 0) throw new VisidError('E_INPUT', 'no face found', { item: name });
  if (faces.length > 1) throw new VisidError('E_INPUT', `${faces.length} faces found; verification needs exactly one per image`, { item: name });
  return faces[0]!;
}

/** The single face of a photo with its descriptor, or a clear error naming the photo (none, several, unreadable). */
export async function singleFace(engine: FaceEngine, input: Input, options: FaceOptions = {}): Promise<DetectedFace & { embedding: Float32Array }> {
  const [r] = await facesOfPhotos(engine, [input], options);
  if (r instanceof Error) throw r;
  return onlyFace(r!.faces, nameOf(input));
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

export interface Verification {
  score: number;
  /** Squared L2 distance of the unit descriptors (2 − 2·score). */
  distance: number;
  threshold: number;
  same: boolean;
  recognizer: string;
}

export function decide(a: Float32Array, b: Float32Array, threshold: number, recognizer: string): Verification {
  const score = cosine(a, b);
  return { score, distance: 2 - 2 * score, threshold, same: score >= threshold, recognizer };
}

/** 1:1 verification of two photos with exactly one face each (`threshold` default: the recognizer's). */
export async function verifyFiles(engine: FaceEngine, a: Input, b: Input, options: FaceOptions & { threshold?: number } = {}): Promise<Verification & { boxes: { a: DetectedFace['box']; b: DetectedFace['box'] } }> {
  const [fa, fb] = [await singleFace(engine, a, options), await singleFace(engine, b, options)];
  return { ...decide(fa.embedding, fb.embedding, options.threshold ?? engine.recognizer.threshold, engine.recognizer.name), boxes: { a: fa.box, b: fb.box } };
}
