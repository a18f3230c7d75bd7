// Loads face-api (its Node WebAssembly build) and its pretrained weights from node_modules, once per process.
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as FaceApi from '@vladmandic/face-api';
import { quietTensorFlow } from '../../tf/runtime.js';

const require = createRequire(import.meta.url);

export type FaceApiModule = typeof FaceApi;

let loading: Promise<FaceApiModule> | undefined;

/** Folder of the weights that ship inside the @vladmandic/face-api npm package. */
export function faceModelDir(): string {
  return path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
}

/**
 * face-api on TensorFlow.js's WebAssembly backend (tfjs-node is not needed), with the SSD-MobileNetV1 detector,
 * the 68-point landmark net and the 128-d ResNet recognition net loaded from disk. Nothing is downloaded.
 */
export function loadFaceApi(): Promise<FaceApiModule> {
  loading ??= (async () => {
    const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApiModule;
    require('@tensorflow/tfjs-backend-wasm');
    // face-api's bundled typings omit tfjs' engine functions; they are there at run time.
    const tf = faceapi.tf as unknown as { setBackend(name: string): Promise<boolean>; ready(): Promise<void>; env(): { set(flag: string, value: boolean): void } };
    // face-api's tfjs is the same module as visid's in this install, but a second copy would have its own flags.
    quietTensorFlow(tf.env());
    await tf.setBackend('wasm');
    await tf.ready();
    const dir = faceModelDir();
    await faceapi.nets.ssdMobilenetv1.loadFromDisk(dir);
    await faceapi.nets.faceLandmark68Net.loadFromDisk(dir);
    await faceapi.nets.faceRecognitionNet.loadFromDisk(dir);
    return faceapi;
  })();
  return loading;
}
