// A data-parallel training replica (parallel.ts): its own tfjs instance, network, loss and optimiser.
import { parentPort } from 'node:worker_threads';
import { initTf, tf } from '../tf/runtime.js';
import { buildNet, type EmbeddingNet } from '../models/networks.js';
import type { Loss } from '../losses/loss.js';
import { serializeError } from '../util/errors.js';
import { createLoss } from './loss-factory.js';
import { createOptimizer, type Optimizer } from './optimizers.js';
import { batchGrads, loadedNetSpec, namedState } from './trainer.js';
import { assignState, optimizerStateByParam, setOptimizerStateByParam, stateOf, type ReplicaSetup, type StateValues } from './parallel.js';

let net: EmbeddingNet;
let loss: Loss;
let optimizer: Optimizer;
let vars: tf.Variable[];
let named: Array<{ name: string; variable: tf.Variable }>;
let micro: number | undefined;

async function init(setup: ReplicaSetup): Promise<void> {
  await initTf(setup.backend as never);
  net = buildNet(await loadedNetSpec(setup.spec));
  loss = createLoss(setup.loss, setup.numClasses, setup.embeddingDim, setup.seed, { projectionDim: setup.projectionDim });
  named = namedState(net, loss);
  const byName = new Map(named.map((p) => [p.name, p.variable.name]));
  optimizer = createOptimizer(setup.optimizer, setup.lr, setup.groups.map((g) => ({ vars: new Set(g.names.map((n) => byName.get(n)!).filter(Boolean)), lrScale: g.lrScale })));
  vars = [...net.trainable(), ...loss.variables()];
  micro = setup.microBatch;
}

parentPort!.on('message', async (msg: { id: number; type: string } & Record<string, unknown>) => {
  try {
    if (msg.type === 'init') {
      await init(msg['setup'] as ReplicaSetup);
      parentPort!.postMessage({ id: msg.id });
    } else if (msg.type === 'grads') {
      const shape = msg['shape'] as number[];
      const x = tf.tensor(msg['x'] as Float32Array, shape);
      const y = tf.tensor1d(msg['y'] as Int32Array, 'int32');
      const weight = msg['weight'] as number;
      const { loss: lossNow, grads } = batchGrads(net, loss, x, y, vars, micro, weight);
      const out = vars.map((v) => (grads[v.name] ? Float32Array.from(grads[v.name]!.dataSync() as Float32Array) : new Float32Array(v.size)));
      tf.dispose([x, y, ...Object.values(grads)]);
      parentPort!.postMessage({ id: msg.id, grads: out, loss: lossNow }, out.map((g) => g.buffer as ArrayBuffer));
    } else if (msg.type === 'apply') {
      const g = msg['grads'] as Float32Array[];
      const map: tf.NamedTensorMap = {};
      vars.forEach((v, i) => (map[v.name] = tf.tensor(g[i]!, v.shape)));
      optimizer.applyGrads(map, vars, msg['lr'] as number);
      tf.dispose(Object.values(map));
      parentPort!.postMessage({ id: msg.id });
    } else if (msg.type === 'state') {
      // Optimiser slots by parameter name (tfjs variable names differ between threads).
      const opt = await optimizerStateByParam(optimizer, named);
      parentPort!.postMessage({ id: msg.id, params: stateOf(named), optimizer: opt });
    } else if (msg.type === 'load') {
      assignState(named, msg['params'] as StateValues);
      const opt = msg['optimizer'] as StateValues | undefined;
      if (opt) await setOptimizerStateByParam(optimizer, named, opt);
      parentPort!.postMessage({ id: msg.id });
    }
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, error: serializeError(err, 'training worker') });
  }
});
