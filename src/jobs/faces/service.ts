// Face tasks on image files: one face per image for verification, embeddings for enrolment, identification.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { VisidError } from '../../util/errors.js';
import { decodeRgb, RgbImage } from '../../images/decode.js';
import { DetectedFace, DetectOptions, EmbedFaceOptions, FaceSystem } from './faces.js';
import { faceModelDir } from './runtime.js';

/** The recognition model's card: what it is and its default same/different threshold (cosine similarity). */
export const FACE_MODEL = {
  name: 'face-api-resnet-128',
  description: 'dlib ResNet face recognition (128-d) as shipped in @vladmandic/face-api, on visid 5-point aligned 150×150 chips',
  /**
   * Cosine-similarity threshold from the 10-fold protocol over the 300 labelled pairs in shared/data/faces-deepface
   * (mean of the fold thresholds; bench/faces prints it). Replace with the LFW value when LFW is available.
   */
  threshold: 0.945,
};

/** A stable id of the recognition weights, so galleries refuse descriptors of another model. */
export async function faceModelId(): Promise<string> {
  const bytes = await fs.readFile(path.join(faceModelDir(), 'face_recognition_model.bin'));
  return `face-api-recognition-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`;
}

export interface FaceOptions extends DetectOptions, EmbedFaceOptions {
  /** Pixel limit of the photo (decompression-bomb guard). */
  maxPixels?: number;
}

export interface ImageFaces {
  file: string;
  image: RgbImage;
  faces: DetectedFace[];
}

export async function detectInFile(system: FaceSystem, file: string, options: FaceOptions = {}): Promise<ImageFaces> {
  const image = await decodeRgb(file);
  return { file, image, faces: await system.detect(image, options) };
}

/** The single face of an image, or a clear error naming the file when there are none or several. */
export async function singleFace(system: FaceSystem, file: string, options: FaceOptions = {}): Promise<{ face: DetectedFace; embedding: Float32Array }> {
  const { image, faces } = await detectInFile(system, file, options);
  const face = onlyFace(faces, file);
  return { face, embedding: await system.embedFace(image, face, options) };
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
}

/** The one face of a photo's faces, or the error a verification gives when there are none or several. */
export function onlyFace<T>(faces: T[], name: string): T {
  if (faces.length === 0) throw new VisidError('E_INPUT', 'no face found', { item: name });
  if (faces.length > 1) throw new VisidError('E_INPUT', `${faces.length} faces found; verification needs exactly one per image`, { item: name });
  return faces[0]!;
}

export function decide(a: Float32Array, b: Float32Array, threshold = FACE_MODEL.threshold): Verification {
  const score = cosine(a, b);
  return { score, distance: 2 - 2 * score, threshold, same: score >= threshold };
}

export async function verifyFiles(system: FaceSystem, a: string, b: string, options: FaceOptions & { threshold?: number } = {}): Promise<Verification> {
  const fa = await singleFace(system, a, options);
  const fb = await singleFace(system, b, options);
  return decide(fa.embedding, fb.embedding, options.threshold);
}
