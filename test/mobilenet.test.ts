// The MobileNetV1 backbone rebuilt from face-api's SSD weights: the ONNX graph computes what face-api's own TensorFlow.js ops compute.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildMobileNetV1Model, faceApiModelDir, readTfjsWeights } from '../src/models/mobilenet-v1.js';
import { initTf, tf } from '../src/tf/runtime.js';

test('MobileNetV1 ONNX (SAME_UPPER padding, folded batch norms) equals the tfjs forward face-api runs, feature map and GeM', async () => {
  await initTf('wasm');
  const weights = await readTfjsWeights(path.join(faceApiModelDir(), 'ssd_mobilenetv1_model-weights_manifest.json'));
  // Dequantization: every weight is min + q·scale, so it lies within the manifest's range.
  assert.equal(weights.get('MobilenetV1/Conv2d_13_pointwise/weights')!.shape.join(), '1,1,1024,1024');
  const H = 70, W = 100; // odd sizes after striding exercise TF's 'same' padding (extra pixel at the end)
  const x = Float32Array.from({ length: 3 * H * W }, (_, i) => Math.sin(i * 0.37));
  // face-api's ops: conv2d 'same' + offset + relu6; depthwiseConv2d 'same' + batchNorm(ε 0.001) + relu6.
  const T = (n: string) => tf.tensor(weights.get(n)!.values, weights.get(n)!.shape);
  const reference = tf.tidy(() => {
    const pw = (r: tf.Tensor4D, l: number, s: number) => tf.clipByValue(tf.add(tf.conv2d(r, T(`MobilenetV1/Conv2d_${l}_pointwise/weights`) as tf.Tensor4D, s, 'same'), T(`MobilenetV1/Conv2d_${l}_pointwise/convolution_bn_offset`)), 0, 6) as tf.Tensor4D;
    let r = pw(tf.transpose(tf.tensor4d(x, [1, 3, H, W]), [0, 2, 3, 1]), 0, 2);
    for (let l = 1; l <= 13; l++) {
      const p = `MobilenetV1/Conv2d_${l}_depthwise/`;
      r = tf.depthwiseConv2d(r, T(`${p}depthwise_weights`) as tf.Tensor4D, [2, 4, 6, 12].includes(l) ? 2 : 1, 'same');
      r = tf.clipByValue(tf.batchNorm(r, T(`${p}BatchNorm/moving_mean`) as tf.Tensor1D, T(`${p}BatchNorm/moving_variance`) as tf.Tensor1D, T(`${p}BatchNorm/beta`) as tf.Tensor1D, T(`${p}BatchNorm/gamma`) as tf.Tensor1D, 0.0010000000474974513), 0, 6) as tf.Tensor4D;
      r = pw(r, l, 1);
    }
    return tf.transpose(r, [0, 3, 1, 2]);
  });
  const refShape = reference.shape;
  const ref = reference.dataSync() as Float32Array;
  reference.dispose();
  assert.deepEqual(refShape, [1, 1024, 3, 4]);
  for (const pooled of [false, true]) {
    const { onnx, card } = await buildMobileNetV1Model({ pooled });
    const session = await ort.InferenceSession.create(onnx);
    const out = (await session.run({ image: new ort.Tensor('float32', x, [1, 3, H, W]) }))[card.outputName!]!;
    const data = out.data as Float32Array;
    if (!pooled) {
      assert.deepEqual(out.dims, [1, 1024, 3, 4]);
      let maxDiff = 0;
      for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ref[i]! - data[i]!));
      assert.ok(maxDiff < 1e-3, `feature map differs by ${maxDiff}`);
    } else {
      assert.deepEqual(out.dims, [1, 1024]);
      for (const c of [0, 100, 1023]) {
        let s = 0;
        for (let p = 0; p < 12; p++) s += Math.max(ref[c * 12 + p]!, 1e-6) ** 3;
        assert.ok(Math.abs(data[c]! - (s / 12) ** (1 / 3)) < 1e-3, `GeM channel ${c}`);
      }
    }
    await session.release();
  }
});
