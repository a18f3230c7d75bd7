// Video frames through the ffmpeg binary that ships in @ffmpeg-installer's npm package: probe, and stream frames at a rate or one per shot.
import { spawn } from 'node:child_process';
import { constants, promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { VisidError } from '../../util/errors.js';
import type { ResizeMode } from '../../images/decode.js';

const require = createRequire(import.meta.url);

/** The ffmpeg executable: $VISID_FFMPEG, else the one in @ffmpeg-installer's platform package (no apt, no download). */
export async function ffmpegPath(): Promise<string> {
  const file = process.env.VISID_FFMPEG ?? (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
  try {
    await fs.access(file, constants.X_OK);
  } catch {
    throw new VisidError('E_INPUT', 'ffmpeg is not executable (reinstall @ffmpeg-installer/ffmpeg, or set VISID_FFMPEG)', { item: file });
  }
  return file;
}

export interface VideoInfo {
  /** Seconds; undefined when the container does not say. */
  duration?: number;
  width: number;
  height: number;
  /** Frames per second of the video stream, when known. */
  fps?: number;
}

/** Runs ffmpeg to completion; returns its stderr (ffmpeg's log), rejecting with it when the exit code is not 0 (unless `allowFail`). */
async function runFfmpeg(args: string[], allowFail = false): Promise<string> {
  const bin = await ffmpegPath();
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 || allowFail ? resolve(log) : reject(new Error(log.trim().split('\n').slice(-3).join(' | ') || `ffmpeg exited with ${code}`))));
  });
}

/** Duration, size and frame rate from ffmpeg's own description of the file (the npm package ships no ffprobe). */
export async function probeVideo(file: string): Promise<VideoInfo> {
  await fs.access(file).catch(() => {
    throw new VisidError('E_NOT_FOUND', 'video file not found', { item: file });
  });
  const log = await runFfmpeg(['-hide_banner', '-nostdin', '-i', file], true);
  const video = /Stream #\d+:\d+.*?: Video: .*?(\d{2,5})x(\d{2,5})/.exec(log);
  if (!video) throw new VisidError('E_INPUT', `not a readable video (${log.trim().split('\n').pop() ?? 'no video stream'})`, { item: file });
  const d = /Duration: (\d+):(\d+):(\d+(?:\.\d+)?)/.exec(log);
  const fps = /(\d+(?:\.\d+)?) fps/.exec(log);
  return {
    width: Number(video[1]),
    height: Number(video[2]),
    duration: d ? Number(d[1]) * 3600 + Number(d[2]) * 60 + Number(d[3]) : undefined,
    fps: fps ? Number(fps[1]) : undefined,
  };
}

export interface FrameOptions {
  /** Output frame size (the model's input). */
  width: number;
  height: number;
  /** exact: stretch to width×height; shorter-crop: scale the shorter side, crop the centre (the model card's resize). */
  resize?: ResizeMode;
  /** Frames per second to sample (seed 002 §2.5: 10). Ignored with `shots`. */
  fps?: number;
  /** One frame per shot instead: the first frame and every frame whose scene-change score exceeds this (0–1, e.g. 0.3). */
  shots?: number;
}

export interface Frame {
  /** 0-based index of the sampled frame. */
  index: number;
  /** Presentation time in seconds. */
  time: number;
  /** width × height × 3 RGB bytes (a fresh buffer per frame). */
  rgb: Uint8Array;
}

function filterChain(o: FrameOptions): string {
  const scale = o.resize === 'shorter-crop'
    ? `scale=${o.width}:${o.height}:force_original_aspect_ratio=increase:flags=bilinear,crop=${o.width}:${o.height}`
    : `scale=${o.width}:${o.height}:flags=bilinear`;
  // showinfo logs each output frame's pts_time, so shot frames carry their real time.
  const sample = o.shots !== undefined ? `select='eq(n\\,0)+gt(scene\\,${o.shots})'` : `fps=${o.fps ?? 10}`;
  return `${sample},showinfo,${scale}`;
}

/**
 * Streams sampled frames of a video as RGB at the model's input size. Only one frame (plus the pipe's buffer) is
 * held at a time, so memory does not grow with the video's length; stopping the iteration stops ffmpeg.
 */
export async function* decodeFrames(file: string, o: FrameOptions): AsyncGenerator<Frame> {
  if (!(o.width > 0 && o.height > 0)) throw new VisidError('E_INPUT', `frame size ${o.width}×${o.height} is not positive`);
  if (o.fps !== undefined && !(o.fps > 0)) throw new VisidError('E_INPUT', `fps must be positive, got ${o.fps}`);
  if (o.shots !== undefined && !(o.shots >= 0 && o.shots < 1)) throw new VisidError('E_INPUT', `shot threshold must be in [0, 1), got ${o.shots}`);
  await fs.access(file).catch(() => {
    throw new VisidError('E_NOT_FOUND', 'video file not found', { item: file });
  });
  const bin = await ffmpegPath();
  const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info', '-i', file, '-an', '-vf', filterChain(o)];
  if (o.shots !== undefined) args.push('-vsync', 'vfr');
  args.push('-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const frameBytes = o.width * o.height * 3;

  // Frame times from showinfo lines on stderr; the last lines of the log for the error message.
  const times: number[] = [];
  let tail: string[] = [];
  let partial = '';
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  child.stderr.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const m = /Parsed_showinfo.*?pts_time:\s*(-?[\d.]+)/.exec(line);
      if (m) times.push(Number(m[1]));
      else if (line.trim()) tail = [...tail.slice(-4), line.trim()];
    }
    notify();
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) => child.on('close', (code) => {
    exitCode = code;
    notify();
    resolve();
  }));
  child.on('error', () => notify());

  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let index = 0;
  let ended = false;
  child.stdout.on('end', () => {
    ended = true;
    notify();
  });
  child.stdout.on('data', (d: Buffer) => {
    pending.push(d);
    pendingBytes += d.length;
    // Backpressure: pause the pipe while a frame or more waits to be consumed.
    if (pendingBytes >= frameBytes) child.stdout.pause();
    notify();
  });
  const waitForData = () => new Promise<void>((resolve) => (wake = resolve));

  try {
    for (;;) {
      if (pendingBytes >= frameBytes) {
        const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
        const rgb = new Uint8Array(all.subarray(0, frameBytes));
        const rest = all.subarray(frameBytes);
        pending = rest.length ? [Buffer.from(rest)] : [];
        pendingBytes = rest.length;
        // The frame's time is logged on stderr, which can lag the pixels on stdout: wait for it (or the end).
        while (times.length <= index && exitCode === undefined) await waitForData();
        const time = times[index] ?? (o.shots === undefined ? index / (o.fps ?? 10) : NaN);
        yield { index, time, rgb };
        index++;
        if (pendingBytes < frameBytes) child.stdout.resume();
        continue;
      }
      if (ended) break;
      child.stdout.resume();
      await waitForData();
    }
    await exited;
    if (exitCode !== 0) throw new VisidError('E_INPUT', `ffmpeg could not decode the video: ${tail.join(' | ') || `exit code ${exitCode}`}`, { item: file });
    if (pendingBytes > 0) throw new VisidError('E_INPUT', `video ended in the middle of a frame (${pendingBytes} of ${frameBytes} bytes)`, { item: file });
  } finally {
    if (exitCode === undefined) {
      child.kill('SIGKILL');
      await exited;
    }
  }
}

/** Writes a video from a list of still images, each shown for `seconds` with a slow zoom so its frames differ (H.264, yuv420p). */
export async function writeSlideshow(images: string[], seconds: number[], out: string, o: { width: number; height: number; fps?: number; zoom?: boolean }): Promise<void> {
  if (images.length === 0 || images.length !== seconds.length) throw new VisidError('E_INPUT', `slideshow needs one duration per image (${images.length} images, ${seconds.length} durations)`, { item: out });
  const fps = o.fps ?? 25;
  const args = ['-hide_banner', '-nostdin', '-y'];
  for (let i = 0; i < images.length; i++) args.push('-loop', '1', '-framerate', String(fps), '-t', String(seconds[i]), '-i', images[i]!);
  const parts: string[] = [];
  for (let i = 0; i < images.length; i++) {
    const frames = Math.max(1, Math.round(seconds[i]! * fps));
    const base = `[${i}:v]scale=${o.width}:${o.height}:force_original_aspect_ratio=decrease:flags=bicubic,pad=${o.width}:${o.height}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p`;
    // A zoom of up to 10% over the shot (zoompan on the padded frame), like a camera drifting towards the subject.
    parts.push(o.zoom === false ? `${base}[v${i}]` : `${base},zoompan=z='1+0.1*on/${frames}':d=1:x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':s=${o.width}x${o.height}:fps=${fps}[v${i}]`);
  }
  const filter = `${parts.join(';')};${images.map((_, i) => `[v${i}]`).join('')}concat=n=${images.length}:v=1:a=0[out]`;
  // Written beside the target and renamed, so an interrupted run never leaves a truncated video under its name.
  const tmp = path.join(path.dirname(out), `.${path.basename(out, path.extname(out))}.${process.pid}.tmp${path.extname(out) || '.mp4'}`);
  args.push('-filter_complex', filter, '-map', '[out]', '-r', String(fps), '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20', '-pix_fmt', 'yuv420p', tmp);
  try {
    await runFfmpeg(args);
    await fs.rename(tmp, out);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw new VisidError('E_INPUT', `ffmpeg could not write the video: ${(err as Error).message}`, { item: out, cause: err });
  }
}
