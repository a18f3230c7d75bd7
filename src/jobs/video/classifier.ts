// A multi-label frame classifier: an ONNX model whose card names its classes (and thresholds), run on raw RGB frames.
import { Embedder } from '../../models/embedder.js';
import type { ModelCard } from '../../models/model-card.js';
import { rgbToTensor } from '../../images/tensor.js';
import { VisidError } from '../../util/errors.js';

/** What a multi-label classifier's card adds to a model card. */
export interface ClassifierCardExtras {
  task: 'multi-label';
  classes: string[];
  /** Per-class thresholds on the sigmoid output (chosen on validation). */
  thresholds?: number[];
  noneClasses?: boolean[];
}

export class FrameClassifier {
  private constructor(
    readonly modelPath: string,
    private readonly embedder: Embedder,
    readonly classes: string[],
    readonly thresholds: number[] | undefined,
  ) {}

  /** Loads a model made by `visid video train` (its card says task: multi-label and lists the classes). */
  static async load(modelPath: string, options: { threads?: number } = {}): Promise<FrameClassifier> {
    const embedder = await Embedder.load(modelPath, { normalize: false, threads: options.threads, workers: 0 });
    const card = embedder.card as ModelCard & Partial<ClassifierCardExtras>;
    if (card.task !== 'multi-label' || !Array.isArray(card.classes) || card.classes.length === 0) {
      await embedder.close();
      throw new VisidError('E_MODEL', "not a multi-label classifier: its card needs task: 'multi-label' and a classes list (train one with visid video train)", { item: modelPath });
    }
    if (card.thresholds && card.thresholds.length !== card.classes.length) {
      await embedder.close();
      throw new VisidError('E_MODEL', `card has ${card.thresholds.length} thresholds for ${card.classes.length} classes`, { item: modelPath });
    }
    return new FrameClassifier(modelPath, embedder, card.classes, card.thresholds);
  }

  get modelId(): string {
    return this.embedder.modelId;
  }

  /** Frame size the model takes, and how frames are fitted to it. */
  get input(): { width: number; height: number; resize: ModelCard['resize'] } {
    const [height, width] = this.embedder.card.inputSize;
    return { width, height, resize: this.embedder.card.resize };
  }

  /** Sigmoid scores [frames × classes] of RGB frames already at the input size. */
  async classify(frames: Uint8Array[], names?: string[]): Promise<Float32Array> {
    const { width, height } = this.input;
    const card = this.embedder.card;
    const per = 3 * width * height;
    const batch = new Float32Array(frames.length * per);
    frames.forEach((rgb, i) => {
      if (rgb.length !== per) throw new VisidError('E_DIM', `frame has ${rgb.length} bytes, ${width}×${height} RGB needs ${per}`, { item: names?.[i] });
      rgbToTensor(rgb, width, height, card, card.layout, false, batch, i * per);
    });
    const scores = await this.embedder.embedTensors(batch, frames.length, height, width, names);
    if (scores.length !== frames.length * this.classes.length) throw new VisidError('E_DIM', `model gives ${scores.length / frames.length} scores per frame, its card lists ${this.classes.length} classes`, { item: this.modelPath });
    return scores;
  }

  async close(): Promise<void> {
    await this.embedder.close();
  }
}
