// Pretrained backbones for fine-tuning, by name (the photo models of visid models) or as a Keras layers model
// folder: the Keras model, the layer its feature map ends at, and its input size.
import { existsSync, statSync } from 'node:fs';
import { VisidError } from '../util/errors.js';
import { readKerasLayersModel, readNsfwjsModel, type KerasLayersModel } from './keras-layers-onnx.js';
import { PHOTO_BACKBONES } from './photo-backbones.js';

export interface PretrainedBackbone {
  model: KerasLayersModel;
  until: string;
  inputSize: [number, number];
  /** Where it came from, for the card. */
  source: string;
}

const NAMED: Record<string, keyof typeof PHOTO_BACKBONES> = {
  photo: 'mobilenetv2',
  'photo-small': 'mobilenetv2',
  'photo-inceptionv3': 'inceptionv3',
};

const cache = new Map<string, PretrainedBackbone>();

/** A backbone name that fine-tuning knows, or a folder with model.json; `until` is needed for folders. */
export async function loadPretrainedBackbone(backbone: string, until?: string): Promise<PretrainedBackbone> {
  const key = `${backbone}\u0000${until ?? ''}`;
  const hit = cache.get(key);
  if (hit) return hit;
  let out: PretrainedBackbone;
  const named = NAMED[backbone];
  if (named) {
    const b = PHOTO_BACKBONES[named];
    out = { model: await readNsfwjsModel(b.source), until: until ?? b.until, inputSize: [b.inputSize, b.inputSize], source: `${backbone} (${b.title} from the nsfwjs npm package)` };
  } else if (existsSync(backbone) && (statSync(backbone).isDirectory() || backbone.endsWith('.json'))) {
    const model = await readKerasLayersModel(backbone);
    if (!until) throw new VisidError('E_INPUT', "a Keras layers model folder needs model.until: the layer whose output is the feature map to fine-tune up to", { item: backbone });
    const first = model.layers.find((l) => l.class_name === 'InputLayer');
    const shape = first?.config['batch_input_shape'] as Array<number | null> | undefined;
    out = { model, until, inputSize: [Number(shape?.[1] ?? 224), Number(shape?.[2] ?? 224)], source: backbone };
  } else {
    throw new VisidError('E_INPUT', `unknown pretrained backbone '${backbone}' (photo, photo-small, photo-inceptionv3, or a Keras layers model folder)`, { item: backbone });
  }
  cache.set(key, out);
  return out;
}

/** The backbone loaded by `loadPretrainedBackbone` (networks are built synchronously once it is). */
export function loadedPretrainedBackbone(backbone: string, until?: string): PretrainedBackbone {
  const hit = cache.get(`${backbone}\u0000${until ?? ''}`);
  if (!hit) throw new VisidError('E_MODEL', `backbone '${backbone}' is not loaded yet (await loadPretrainedBackbone first)`);
  return hit;
}
