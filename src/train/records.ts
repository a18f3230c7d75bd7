// What a training run emits: one record per finished epoch (console line, log.jsonl, checkpoint, report all read these).
//
// One epoch convention everywhere: epoch 0 is the untrained network (the baseline measured before any step),
// epochs 1…N are the training epochs, so "epoch 3" in the console, in log.jsonl, in checkpoints/epoch-0003.ckpt,
// in the card's bestEpoch and in the report are the same network.

export interface EpochRecord {
  /** 1-based: the network after this many training epochs. */
  epoch: number;
  loss: number;
  lr: number;
  seconds: number;
  samplesPerSecond: number;
  'recall@1': number;
  'recall@5': number;
  'map@5': number;
}

export type ValidationMetrics = Pick<EpochRecord, 'recall@1' | 'recall@5' | 'map@5'>;
