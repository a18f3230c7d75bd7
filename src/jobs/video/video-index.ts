// A video index on disk: every sampled frame's class scores (scores.npy) and the clips they belong to (index.json); built by streaming, resumable, fusable.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readNpy, writeNpy } from '../../formats/npy.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { VisidError } from '../../util/errors.js';
import { createProgress } from '../../util/progress.js';
import { fuseScores } from '../../search/ensemble.js';
import { decodeFrames, probeVideo } from './ffmpeg.js';
import { FrameClassifier } from './classifier.js';
import { aggregateClip, rankClips, type ClipAggregation, type RankedClip } from './clips.js';

export interface ClipEntry {
  id: string;
  /** The video file (absolute). */
  video: string;
  /** First row of this clip's frames in scores.npy, and how many. */
  start: number;
  frames: number;
  /** Each frame's time in seconds in the video. */
  times: number[];
}

export interface VideoIndexMeta {
  version: 1;
  classes: string[];
  model: { file: string; sha256: string } | { fused: Array<{ index: string; weight: number }> };
  sampling: { fps?: number; shots?: number; segment?: number };
  /** The classifier's per-class decision thresholds (from validation), when it has them; a fused index has none. */
  thresholds?: number[];
  /** Total frame rows in scores.npy that belong to clips. */
  rows: number;
  clips: ClipEntry[];
}

const META = 'index.json';
const SCORES = 'scores.npy';

export class VideoIndex {
  /** Scores appended since they were last joined: appending many videos then costs one copy, not one per video. */
  private pending: Float32Array[] = [];

  private constructor(
    readonly dir: string,
    readonly meta: VideoIndexMeta,
    private joined: Float32Array,
  ) {}

  /** Row-major rows × classes frame scores. */
  get scores(): Float32Array {
    if (this.pending.length) {
      const all = new Float32Array(this.joined.length + this.pending.reduce((s, p) => s + p.length, 0));
      all.set(this.joined);
      let at = this.joined.length;
      for (const p of this.pending) {
        all.set(p, at);
        at += p.length;
      }
      this.joined = all;
      this.pending = [];
    }
    return this.joined;
  }

  get classes(): string[] {
    return this.meta.classes;
  }

  get clips(): ClipEntry[] {
    return this.meta.clips;
  }

  static async exists(dir: string): Promise<boolean> {
    return fs.access(path.join(dir, META)).then(() => true, () => false);
  }

  /** Opens an index, checking that its scores file holds the rows its clips name (a crash between the two writes leaves extra rows, which are dropped). */
  static async open(dir: string): Promise<VideoIndex> {
    let meta: VideoIndexMeta;
    try {
      meta = JSON.parse(await fs.readFile(path.join(dir, META), 'utf8')) as VideoIndexMeta;
    } catch (err) {
      throw new VisidError('E_NOT_FOUND', `not a video index (no readable ${META}): ${(err as Error).message}`, { item: dir });
    }
    if (meta.version !== 1 || !Array.isArray(meta.classes) || !Array.isArray(meta.clips)) throw new VisidError('E_INPUT', `${META} is not a version-1 video index`, { item: dir });
    const c = meta.classes.length;
    let scores: Float32Array = new Float32Array(0);
    if (meta.rows > 0) {
      const npy = await readNpy(path.join(dir, SCORES));
      if (npy.shape.length !== 2 || npy.shape[1] !== c) throw new VisidError('E_DIM', `${SCORES} has shape [${npy.shape}], expected [rows, ${c}]`, { item: dir });
      if (npy.shape[0]! < meta.rows) throw new VisidError('E_INPUT', `${SCORES} holds ${npy.shape[0]} frames, the index names ${meta.rows}; the index is damaged`, { item: dir });
      scores = npy.data.subarray(0, meta.rows * c);
    }
    let expected = 0;
    for (const clip of meta.clips) {
      if (clip.start !== expected || clip.frames !== clip.times.length) throw new VisidError('E_INPUT', `clip rows are inconsistent (start ${clip.start}, expected ${expected})`, { item: `${dir}: ${clip.id}` });
      expected += clip.frames;
    }
    if (expected !== meta.rows) throw new VisidError('E_INPUT', `clips cover ${expected} frames, the index says ${meta.rows}`, { item: dir });
    return new VideoIndex(dir, meta, scores);
  }

  static async create(dir: string, meta: Omit<VideoIndexMeta, 'version' | 'rows' | 'clips'>): Promise<VideoIndex> {
    await fs.mkdir(dir, { recursive: true });
    const index = new VideoIndex(dir, { version: 1, ...meta, rows: 0, clips: [] }, new Float32Array(0));
    await index.save();
    return index;
  }

  /** Scores first, then the clip list that refers to them: each write is atomic, and extra rows are harmless. */
  async save(): Promise<void> {
    const c = this.meta.classes.length;
    await writeNpy(path.join(this.dir, SCORES), this.scores, [this.meta.rows, c]);
    await writeFileAtomic(path.join(this.dir, META), JSON.stringify(this.meta, null, 1) + '\n');
  }

  /** Appends clips (in memory; call save()). */
  append(clips: Array<Omit<ClipEntry, 'start'>>, frameScores: Float32Array): void {
    const c = this.meta.classes.length;
    const total = clips.reduce((s, x) => s + x.frames, 0);
    if (frameScores.length !== total * c) throw new VisidError('E_DIM', `${frameScores.length} scores for ${total} frames × ${c} classes`);
    for (const clip of clips) {
      if (this.meta.clips.some((x) => x.id === clip.id)) throw new VisidError('E_DUPLICATE', 'clip is already in the index', { item: clip.id });
    }
    this.pending.push(frameScores.slice());
    let start = this.meta.rows;
    for (const clip of clips) {
      this.meta.clips.push({ ...clip, start });
      start += clip.frames;
    }
    this.meta.rows = start;
  }

  /** A clip's frame scores, frames × classes. */
  frameScores(clip: ClipEntry): Float32Array {
    const c = this.meta.classes.length;
    return this.scores.subarray(clip.start * c, (clip.start + clip.frames) * c);
  }

  /** Every clip's score per class. */
  clipScores(how: ClipAggregation = { kind: 'max' }): Float32Array[] {
    return this.meta.clips.map((clip) => aggregateClip(this.frameScores(clip), clip.frames, this.meta.classes.length, how));
  }

  /** The top-k clips of one class; with thresholds, each marked detected when its score reaches the class's threshold. */
  search(classIndex: number, k: number, how: ClipAggregation = { kind: 'max' }): RankedClip[] {
    const withFrames = this.meta.clips.filter((c) => c.frames > 0);
    const scores = withFrames.map((clip) => aggregateClip(this.frameScores(clip), clip.frames, this.meta.classes.length, how));
    const ranked = rankClips(withFrames.map((c) => c.id), scores, classIndex, k);
    const t = this.meta.thresholds?.[classIndex];
    return t === undefined ? ranked : ranked.map((r) => ({ ...r, detected: r.score >= t }));
  }
}

export interface IndexVideosOptions {
  /** Frames per second to sample (seed 002: 10); ignored with `shots`. */
  fps?: number;
  /** One frame per shot (scene-change threshold) instead of a rate. */
  shots?: number;
  /** Cut each video into clips of this many seconds (default: one clip per video file). */
  segment?: number;
  batch?: number;
  threads?: number;
  quiet?: boolean;
}

export interface IndexVideosSummary {
  added: number;
  skipped: number;
  frames: number;
  seconds: number;
}

/** The clip id of a video file: its name without extension. */
export function clipIdOf(file: string): string {
  return path.basename(file, path.extname(file));
}

/**
 * Classifies every sampled frame of each video and appends them to the index at `out` (created with the model's
 * classes if missing). Videos whose clips are already there are skipped, so re-running resumes; the index is saved every
 * 30 s, at the end, and when a video fails (a stop loses at most 30 s of work).
 */
export async function indexVideos(videos: string[], modelPath: string, out: string, o: IndexVideosOptions = {}): Promise<IndexVideosSummary> {
  if (videos.length === 0) throw new VisidError('E_INPUT', 'no videos to index');
  const ids = videos.map(clipIdOf);
  const seen = new Map<string, string>();
  ids.forEach((id, i) => {
    const other = seen.get(id);
    if (other) throw new VisidError('E_DUPLICATE', `two videos share the clip id '${id}' (${other} and ${videos[i]}); rename one`, { item: videos[i] });
    seen.set(id, videos[i]!);
  });
  if (o.segment !== undefined && !(o.segment > 0)) throw new VisidError('E_INPUT', `segment must be a positive number of seconds, got ${o.segment}`);
  const classifier = await FrameClassifier.load(modelPath, { threads: o.threads });
  const t0 = performance.now();
  let frames = 0;
  let added = 0;
  let skipped = 0;
  try {
    const sampling = o.shots !== undefined ? { shots: o.shots, segment: o.segment } : { fps: o.fps ?? 10, segment: o.segment };
    let index: VideoIndex;
    if (await VideoIndex.exists(out)) {
      index = await VideoIndex.open(out);
      const m = index.meta.model;
      if (!('sha256' in m) || m.sha256 !== classifier.modelId) throw new VisidError('E_MODEL', 'the index was built with another model; write to a new index', { item: out });
      if (JSON.stringify(index.meta.sampling) !== JSON.stringify(sampling)) throw new VisidError('E_INPUT', `the index samples ${JSON.stringify(index.meta.sampling)}, not ${JSON.stringify(sampling)}`, { item: out });
    } else {
      index = await VideoIndex.create(out, { classes: classifier.classes, model: { file: path.resolve(modelPath), sha256: classifier.modelId }, sampling, ...(classifier.thresholds ? { thresholds: classifier.thresholds } : {}) });
    }
    const done = new Set(index.clips.map((c) => c.video));
    const todo = videos.filter((v) => !done.has(path.resolve(v)));
    skipped = videos.length - todo.length;
    const infos = await Promise.all(todo.map((v) => probeVideo(v)));
    const expected = infos.reduce((s, info) => s + (o.shots !== undefined ? 1 : Math.ceil((info.duration ?? 0) * (o.fps ?? 10))), 0);
    const progress = createProgress({ label: 'video index', total: Math.max(1, expected), unit: 'frames', quiet: o.quiet });
    const batchSize = o.batch ?? 32;
    const { width, height, resize } = classifier.input;
    // Saving rewrites the whole index, so it happens every 30 s (and at the end, or when a video fails), not per video.
    let lastSave = performance.now();
    let unsaved = false;
    try {
      for (const video of todo) {
        const parts: Float32Array[] = [];
        const times: number[] = [];
        let pending: Uint8Array[] = [];
        const flush = async () => {
          if (pending.length === 0) return;
          parts.push(await classifier.classify(pending, pending.map((_, i) => `${video} frame ${times.length - pending.length + i}`)));
          progress.tick(pending.length);
          pending = [];
        };
        for await (const frame of decodeFrames(video, { width, height, resize, fps: o.fps ?? 10, shots: o.shots })) {
          pending.push(frame.rgb);
          times.push(frame.time);
          if (pending.length >= batchSize) await flush();
        }
        await flush();
        if (times.length === 0) throw new VisidError('E_INPUT', 'no frames decoded', { item: video });
        const c = classifier.classes.length;
        const scores = new Float32Array(times.length * c);
        let off = 0;
        for (const p of parts) {
          scores.set(p, off);
          off += p.length;
        }
        const id = clipIdOf(video);
        const abs = path.resolve(video);
        if (o.segment === undefined) {
          index.append([{ id, video: abs, frames: times.length, times }], scores);
        } else {
          // Frames are in time order; a segment is a run of frames with the same ⌊time / segment⌋.
          const clips: Array<Omit<ClipEntry, 'start'>> = [];
          for (let i = 0; i < times.length; i++) {
            const seg = Math.floor(times[i]! / o.segment);
            const cid = `${id}_${String(seg).padStart(4, '0')}`;
            const last = clips[clips.length - 1];
            if (last && last.id === cid) {
              last.frames++;
              last.times.push(times[i]!);
            } else clips.push({ id: cid, video: abs, frames: 1, times: [times[i]!] });
          }
          index.append(clips, scores);
        }
        unsaved = true;
        frames += times.length;
        added++;
        if (performance.now() - lastSave > 30_000) {
          await index.save();
          lastSave = performance.now();
          unsaved = false;
        }
      }
    } finally {
      if (unsaved) await index.save();
    }
    progress.done();
  } finally {
    await classifier.close();
  }
  return { added, skipped, frames, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Weighted fusion of indexes built by different models over the same videos and sampling (seed 002 Table 3: the
 * sigmoid outputs averaged with weights such as 2:1 or 5:1), written as a new index.
 */
export async function fuseVideoIndexes(dirs: string[], weights: number[] | undefined, out: string): Promise<VideoIndex> {
  if (dirs.length < 2) throw new VisidError('E_INPUT', 'fusion needs at least two indexes');
  const indexes = await Promise.all(dirs.map((d) => VideoIndex.open(d)));
  const [first] = indexes;
  for (const [i, ix] of indexes.entries()) {
    if (JSON.stringify(ix.classes) !== JSON.stringify(first!.classes)) throw new VisidError('E_INPUT', 'indexes have different class lists', { item: dirs[i] });
    const same = ix.clips.length === first!.clips.length && ix.clips.every((c, j) => c.id === first!.clips[j]!.id && c.frames === first!.clips[j]!.frames);
    if (!same) throw new VisidError('E_INPUT', 'indexes do not hold the same clips and frames (index the same videos with the same sampling)', { item: dirs[i] });
  }
  const fused = fuseScores(indexes.map((ix) => ix.scores), weights);
  const w = weights ?? dirs.map(() => 1);
  const index = await VideoIndex.create(out, { classes: first!.classes, model: { fused: dirs.map((d, i) => ({ index: path.resolve(d), weight: w[i]! })) }, sampling: first!.meta.sampling });
  index.append(first!.clips.map(({ start: _start, ...c }) => c), fused);
  await index.save();
  return index;
}
