// The visid library: every stage of the pipeline, importable from the package root.
export { VisidError, type VisidErrorCode } from './util/errors.js';
export { writeFileAtomic } from './util/atomic.js';
export { l2NormalizeRows, fuseDescriptors, type FusionMode } from './util/vectors.js';
export { createProgress, silentProgress, type Progress } from './util/progress.js';
export { mulberry32 } from './util/random.js';

export type { Item, Dataset } from './data/item.js';
export { readFolderDataset } from './data/folder.js';
export { readManifestDataset } from './data/manifest.js';
export { loadDataset } from './data/load.js';

export { decodeRgb, DEFAULT_MAX_PIXELS, type RgbImage, type DecodeOptions, type ResizeMode } from './images/decode.js';
export { rgbToTensor, type Layout, type Normalization } from './images/tensor.js';
export { preprocessImage, type PreprocessSpec } from './images/preprocess.js';
export { ImagePool } from './images/pool.js';

export { OnnxGraph } from './formats/onnx-graph.js';
export { loadCard, validateCard, IMAGENET_MEAN, IMAGENET_STD, type ModelCard } from './models/model-card.js';
export { Embedder, type EmbedOptions, type EmbedderOptions, type EmbedResult } from './models/embedder.js';
export { buildUntrainedModel, UNTRAINED_MODEL_NAME } from './models/default-model.js';
export { defaultModelPath, untrainedModelPath, DEFAULT_MODEL_NAME } from './models/default-files.js';

export { Gallery, type GalleryItem, type GalleryModel } from './index/gallery.js';
export { readNpy, writeNpy, encodeNpy, decodeNpy } from './formats/npy.js';

export { ExactIndex, type Metric, type SearchResult } from './search/exact.js';
export { GallerySearcher } from './search/gallery-search.js';
export { uniqueLabelRanking, labelVoting, type Hit, type LabelHit } from './search/labels.js';

export { mapAtK, recallAtK, precisionAtK, averagePrecision, meanAveragePrecision } from './eval/metrics.js';
export { haversineMeters, geoDistanceMeters, geoPositives, EARTH_RADIUS_M } from './eval/geo.js';
export { evaluateRetrieval, parseMetrics, type EvaluationReport, type MetricSpec } from './eval/evaluate.js';

export { indexDataset, type IndexOptions, type IndexSummary } from './pipeline/index-dataset.js';
export { writeSyntheticDataset } from './demo/synthetic.js';

export { initTf, hasTfjsNode, tf, type TrainBackend } from './tf/runtime.js';
export type { Loss, Reducer } from './losses/loss.js';
export { meanReducer, outlierRemovalReducer, pairwiseDistances, l2Normalize } from './losses/loss.js';
export { MarginSoftmaxLoss, normFace, sphereFace, arcFace, cosFace, subCenterArcFace } from './losses/margin-softmax.js';
export { TripletLoss } from './losses/triplet.js';
export { ContrastiveLoss } from './losses/contrastive.js';
export { MarginBasedLoss } from './losses/margin-based.js';
export { CenterLoss } from './losses/center.js';
export { MultiSimilarityLoss } from './losses/multi-similarity.js';
export { SoftBceLoss } from './losses/bce.js';
export { FocalLoss } from './losses/focal.js';
export { ClassBalancedFocalLoss, classBalancedWeights } from './losses/class-balanced-focal.js';
export { ReducedFocalLoss } from './losses/reduced-focal.js';
export { DomainAdversarialLoss } from './losses/domain-adversarial.js';
export type { Miner, Triplets } from './miners/miner.js';
export { BatchAllMiner } from './miners/batch-all.js';
export { BatchHardMiner } from './miners/batch-hard.js';
export { SemiHardMiner } from './miners/semi-hard.js';
export { DistanceWeightedMiner } from './miners/distance-weighted.js';
export { gradientReversal } from './models/gradient-reversal.js';
export { buildNet, buildCnn, buildHead, type NetSpec, type CnnSpec, type HeadSpec, type EmbeddingNet } from './models/networks.js';
export { cnnToOnnx, headOnBackboneToOnnx, cnnEnsembleToOnnx } from './models/export-onnx.js';
export { softLabelVector } from './data/soft-labels.js';
export { loadIdxSplit, FASHION_MNIST_CLASSES } from './data/idx.js';
export { validateConfig, readConfigFile, type TrainConfig } from './train/config.js';
export { train, validate, type TrainResult, type EpochRecord } from './train/trainer.js';
export { createSampler, PKSampler, RandomSampler, ClassBalancedSampler } from './train/samplers.js';
export { learningRate, seed004Ratio, type ScheduleSpec } from './train/schedules.js';
export { createOptimizer, type OptimizerSpec } from './train/optimizers.js';
export { averageWeights, greedySoup } from './train/soups.js';
export { retrievalMetrics } from './eval/in-memory.js';
export { writeFashionMnistDemo } from './demo/fashion-mnist.js';

export { AugmentPipeline, type StepSpec } from './augment/pipeline.js';
export { microAveragePrecision, recallAtPrecision, thresholdAtPrecision, precisionRecallCurve, readMatchesCsv, readTruthCsv, matchesCsv, type CopyMatch, type CopyPair } from './eval/copy-detection.js';
export { stretchFactors, stretchedScore, stretchDescriptors, normalizedScore } from './search/stretch.js';
export { matchCopies, type CopyScoring, type CopyMatchOptions, type DescriptorSet } from './jobs/copy-detection/match.js';
export { perceptualHash, hammingDistance, hashHex, HASH_KINDS, type HashKind } from './models/perceptual-hash.js';
export { matchHashes } from './jobs/copy-detection/hash-match.js';
export { CopyDetectionLoss, type CopyDetectionLossOptions } from './losses/copy-detection.js';
export { copyDetect, ISC_SCALES, type CopyDetectOptions, type CopyDetectResult } from './jobs/copy-detection/pipeline.js';
export { writeCopyBenchmark } from './jobs/copy-detection/benchmark.js';

export { labelRankingAveragePrecision, f1Thresholds } from './eval/multilabel.js';
export { ladiLabelSet, readLabelSet, loadLabelSet, classIndex, type LabelSet, type LabelClass } from './jobs/video/label-set.js';
export { readSoftLabels } from './jobs/video/annotations.js';
export { decodeFrames, probeVideo, writeSlideshow, ffmpegPath, type Frame, type FrameOptions } from './jobs/video/ffmpeg.js';
export { aggregateClip, rankClips, rankingTsv, trecRun, evaluateClipRankings, parseAggregation, type ClipAggregation, type RankedClip } from './jobs/video/clips.js';
export { FrameClassifier } from './jobs/video/classifier.js';
export { VideoIndex, indexVideos, fuseVideoIndexes } from './jobs/video/video-index.js';
export { evaluateVideoIndex } from './jobs/video/evaluate.js';
export { trainMultiLabelHead, createMultiLabelLoss, predictMultiLabel } from './train/multilabel.js';
export { trainVideoClassifier } from './jobs/video/train.js';
export { writeVideoDemo } from './jobs/video/demo.js';
export { latLonToUtm, utmToLatLon, utmZoneNumber, latitudeBand, parseUtmZone, type Utm } from './data/utm.js';
export { parseGeoFileName, geoFileName, type GeoName } from './data/geo-names.js';
export { geoRecalls, predictLocation, locationError, localizationGeoJson, type LocatedItem, type LocalizedQuery, type LocationMode } from './eval/geo-localization.js';
export { localizationPlot } from './jobs/geo/map.js';
export { nearestIndicesFirst, sharedIndicesFirst, type Prediction } from './search/prediction-fusion.js';
export { alphaQueryExpansion, databaseSideAugmentation, expandDescriptors } from './search/query-expansion.js';
export { localDescriptors, mutualNearestNeighbours, rerankByLocalMatches } from './search/local-rerank.js';
export { cosplaceClasses, trainCosPlaceHead, type CosPlaceGrouping, type CosPlaceClasses } from './jobs/geo/cosplace.js';
export { trainGeoModel, embedItems, retrieve, rerank, scoreGeo } from './jobs/geo/pipeline.js';
export { runGeoRecipe, type GeoRecipeOptions, type GeoRecipeResult } from './jobs/geo/recipe.js';
export { writeGeoDemo } from './jobs/geo/demo.js';
export { untrainedFeatureMapModelPath } from './models/default-files.js';
export { buildMobileNetV1Model, readTfjsWeights, MOBILENET_GEM_MODEL_NAME, MOBILENET_MAP_MODEL_NAME } from './models/mobilenet-v1.js';
export { mobileNetModelPath } from './models/default-files.js';
