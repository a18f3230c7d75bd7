// The photo backbones built from nsfwjs' Keras models: the ONNX feature map equals tfjs' own forward of the same
// Keras model (loadLayersModel) to 1e-4, GeM of it equals the GeM model's output, any input size works, and the
// converter names a layer it cannot convert.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs';
import { buildPhotoBackbone, PHOTO_BACKBONES, type PhotoBackboneName } from '../src/models/photo-backbones.js';
import { kerasToOnnx, readNsfwjsModel, type KerasLayersModel } from '../src/models/keras-layers-onnx.js';
import { findModel, resolveModelName } from '../src/models/registry.js';
import { mulberry32 } from '../src/util/random.js';

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function tfjsModel(m: KerasLayersModel): Promise<tf.LayersModel> {
  const data = m.weightData.buffer.slice(m.weightData.byteOffset, m.weightData.byteOffset + m.weightData.byteLength) as ArrayBuffer;
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: m.json.modelTopology as unknown as tf.io.ModelArtifacts['modelTopology'], weightSpecs: m.json.weightsManifest.flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[], weightData: data }));
}

async function check(name: PhotoBackboneName): Promise<void> {
  const b = PHOTO_BACKBONES[name];
  const s = b.inputSize;
  const rnd = mulberry32(3);
  const nhwc = Float32Array.from({ length: s * s * 3 }, () => rnd());
  const nchw = new Float32Array(nhwc.length);
  for (let y = 0; y < s; y++) for (let x = 0; x < s; x++) for (let c = 0; c < 3; c++) nchw[(c * s + y) * s + x] = nhwc[(y * s + x) * 3 + c]!;
  const map = await ort.InferenceSession.create((await buildPhotoBackbone(name, 'map')).onnx);
  const gem = await ort.InferenceSession.create((await buildPhotoBackbone(name, 'gem')).onnx);
  const feed = { image: new ort.Tensor('float32', nchw, [1, 3, s, s]) };
  const features = (await map.run(feed))['features']!;
  const pooled = (await gem.run(feed))['embedding']!.data as Float32Array;
  const keras = await tfjsModel(await readNsfwjsModel(b.source));
  const body = tf.model({ inputs: keras.inputs, outputs: keras.getLayer(b.until).output as tf.SymbolicTensor });
  const ref = tf.tidy(() => tf.transpose(body.predict(tf.tensor4d(nhwc, [1, s, s, 3])) as tf.Tensor4D, [0, 3, 1, 2]));
  const refData = await ref.data();
  assert.deepEqual(features.dims, ref.shape);
  assert.equal(features.dims[1], b.channels);
  assert.ok(maxDiff(features.data as Float32Array, refData) < 1e-4, `${name}: feature maps differ by ${maxDiff(features.data as Float32Array, refData)}`);
  // GeM (p = 3) of the tfjs map, by hand.
  const hw = features.dims[2]! * features.dims[3]!;
  const byHand = Array.from({ length: b.channels }, (_, c) => {
    let acc = 0;
    for (let i = 0; i < hw; i++) acc += Math.max(1e-6, refData[c * hw + i]!) ** 3;
    return (acc / hw) ** (1 / 3);
  });
  assert.ok(maxDiff(pooled, byHand) < 1e-4, `${name}: GeM differs by ${maxDiff(pooled, byHand)}`);
  // Dynamic height and width (multi-scale): a 320×256 input gives a 10×8 (MobileNetV2) / 8×6 (InceptionV3) map.
  const other = (await map.run({ image: new ort.Tensor('float32', new Float32Array(3 * 320 * 256), [1, 3, 320, 256]) }))['features']!;
  assert.equal(other.dims[1], b.channels);
  assert.ok(other.dims[2]! > other.dims[3]!);
  ref.dispose();
  await Promise.all([map.release(), gem.release()]);
}

test('photo-small / photo (MobileNetV2 from nsfwjs) as ONNX equals tfjs\' forward of the Keras model to 1e-4', async () => {
  await tf.setBackend('cpu');
  await check('mobilenetv2');
});

test('photo-inceptionv3 (InceptionV3 from nsfwjs) as ONNX equals tfjs\' forward of the Keras model to 1e-4', async () => {
  // tfjs' cpu backend (the wasm one cannot run this InceptionV3); about 10 s.
  await tf.setBackend('cpu');
  await check('inceptionv3');
});

test('models by name: photo is the nsfwjs MobileNetV2 GeM model; names resolve to built files; the converter names what it cannot convert', async () => {
  const photo = findModel('photo')!;
  assert.equal(photo.dim, 1280);
  assert.match(await resolveModelName('photo'), /visid-photo-mobilenetv2-gem-v1\.onnx$/);
  assert.equal(findModel('visid-photo-inceptionv3-map-v1')?.name, 'photo-inceptionv3-map');
  assert.equal(findModel('default')?.name, 'fashion-mnist');
  await assert.rejects(resolveModelName('resnet-9000'), /no model file or model name 'resnet-9000'/);
  const m = await readNsfwjsModel('mobilenet_v2');
  const broken = { ...m, layers: m.layers.map((l) => (l.name === 'Conv1_relu' ? { ...l, class_name: 'GaussianNoise' } : l)) };
  assert.throws(() => kerasToOnnx(broken, { name: 'x', until: 'out_relu', output: 'map' }), /layer 'Conv1_relu' \(GaussianNoise\): layer not supported/);
  assert.throws(() => kerasToOnnx(m, { name: 'x', until: 'no_such_layer', output: 'map' }), /the model has no layer 'no_such_layer'/);
});
