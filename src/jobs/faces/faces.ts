// face-api's own pipeline on TensorFlow.js (wasm, one thread): detect (boxes, scores, 68 landmarks) → align → 128-d.
// Kept as the test oracle of the onnxruntime pipeline (engine.ts), which visid's commands and server use: the ONNX
// networks are checked against face-api's forward passes here (test/face-onnx.test.ts).
import sharp from 'sharp';
import { VisidError } from '../../util/errors.js';
import { l2NormalizeRows } from '../../util/vectors.js';
import type { RgbImage } from '../../images/decode.js';
import { alignFace, FACE_API_TEMPLATE_150, faceTemplate, fivePointsFrom68, Point, warpAffine } from './align.js';
import type { DetectedFace, DetectOptions } from './engine.js';
import { FaceApiModule, loadFaceApi } from './runtime.js';

export type { Box, DetectedFace, DetectOptions } from './engine.js';

export interface EmbedFaceOptions {
  /** Also embed the mirrored chip and average (then L2-normalise). */
  flip?: boolean;
  /** 'align': 5-point similarity alignment (default). 'crop': the detection box, squared and resized (no alignment). */
  mode?: 'align' | 'crop';
  /** Alignment template: the framing the shipped net expects (default), or ArcFace's canonical one. */
  template?: 'face-api' | 'arcface';
  /** Template zoom about the chip centre (default 1). */
  zoom?: number;
}

/** Side of the recognition network's input chip. */
export const CHIP_SIZE = 150;

export class FaceSystem {
  private constructor(private readonly api: FaceApiModule) {}

  static async load(): Promise<FaceSystem> {
    return new FaceSystem(await loadFaceApi());
  }

  /** Every face in the image, best score first. */
  async detect(image: RgbImage, options: DetectOptions = {}): Promise<DetectedFace[]> {
    const { tf } = this.api;
    const maxSide = options.maxSide ?? 1024;
    const scale = Math.min(1, maxSide / Math.max(image.width, image.height));
    let pixels = image;
    if (scale < 1) {
      const w = Math.max(1, Math.round(image.width * scale));
      const h = Math.max(1, Math.round(image.height * scale));
      const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).resize(w, h, { fit: 'fill' }).raw().toBuffer();
      pixels = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: w, height: h };
    }
    const input = tf.tensor3d(Int32Array.from(pixels.data), [pixels.height, pixels.width, 3], 'int32');
    try {
      const found = await this.api
        .detectAllFaces(input, new this.api.SsdMobilenetv1Options({ minConfidence: options.minScore ?? 0.5, maxResults: options.maxFaces ?? 100 }))
        .withFaceLandmarks();
      const back = 1 / scale;
      const faces = found.map((f) => {
        const b = f.detection.box;
        const landmarks = f.landmarks.positions.map((p): Point => [p.x * back, p.y * back]);
        return {
          box: { x: b.x * back, y: b.y * back, width: b.width * back, height: b.height * back },
          score: f.detection.score,
          landmarks,
          five: fivePointsFrom68(landmarks),
        };
      });
      const minSize = options.minSize ?? 24;
      return faces.filter((f) => Math.min(f.box.width, f.box.height) >= minSize).sort((a, b) => b.score - a.score);
    } finally {
      input.dispose();
    }
  }

  /** The recognition chip of one face: aligned on the 5-point template, or the plain squared box. */
  chip(image: RgbImage, face: DetectedFace, options: EmbedFaceOptions = {}): RgbImage {
    if ((options.mode ?? 'align') === 'align') {
      const template = options.template === 'arcface' ? faceTemplate(CHIP_SIZE, options.zoom ?? 1) : faceTemplate(CHIP_SIZE, options.zoom ?? 1, FACE_API_TEMPLATE_150, 150);
      return alignFace(image, face.five, CHIP_SIZE, 1, template).chip;
    }
    // Plain crop: the square around the box centre, scaled to the chip (an axis-aligned similarity).
    const side = Math.max(face.box.width, face.box.height);
    const s = CHIP_SIZE / side;
    const cx = face.box.x + face.box.width / 2;
    const cy = face.box.y + face.box.height / 2;
    return warpAffine(image, [s, 0, -s * (cx - side / 2), 0, s, -s * (cy - side / 2)], CHIP_SIZE, CHIP_SIZE);
  }

  /** 128-d L2-normalised descriptor of a chip (CHIP_SIZE × CHIP_SIZE RGB). */
  async embedChip(chip: RgbImage, flip = false): Promise<Float32Array> {
    if (chip.width !== CHIP_SIZE || chip.height !== CHIP_SIZE) throw new VisidError('E_DIM', `face chip must be ${CHIP_SIZE}×${CHIP_SIZE}, got ${chip.width}×${chip.height}`);
    const views = flip ? [chip.data, mirror(chip)] : [chip.data];
    const out = new Float32Array(128);
    for (const data of views) {
      const t = this.api.tf.tensor3d(Int32Array.from(data), [CHIP_SIZE, CHIP_SIZE, 3], 'int32');
      try {
        const d = (await this.api.nets.faceRecognitionNet.computeFaceDescriptor(t)) as Float32Array;
        const unit = l2NormalizeRows(Float32Array.from(d), 128);
        for (let i = 0; i < 128; i++) out[i]! += unit[i]!;
      } finally {
        t.dispose();
      }
    }
    return l2NormalizeRows(out, 128);
  }

  async embedFace(image: RgbImage, face: DetectedFace, options: EmbedFaceOptions = {}): Promise<Float32Array> {
    return this.embedChip(this.chip(image, face, options), options.flip ?? false);
  }
}

function mirror(chip: RgbImage): Uint8Array {
  const out = new Uint8Array(chip.data.length);
  for (let y = 0; y < chip.height; y++) {
    for (let x = 0; x < chip.width; x++) {
      const s = 3 * (y * chip.width + x);
      const d = 3 * (y * chip.width + chip.width - 1 - x);
      out[d] = chip.data[s]!;
      out[d + 1] = chip.data[s + 1]!;
      out[d + 2] = chip.data[s + 2]!;
    }
  }
  return out;
}
