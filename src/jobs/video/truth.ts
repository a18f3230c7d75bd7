// Ground truth of clips: which features each shot (a time range of a clip) shows; clip-level sets and frame-level label rows.
import { promises as fs } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { VisidError } from '../../util/errors.js';
import { splitLabelCell } from './annotations.js';
import type { ClipEntry } from './video-index.js';

export interface ShotTruth {
  clip: string;
  /** Seconds; a shot without times covers the whole clip. */
  start?: number;
  end?: number;
  labels: string[];
}

/** Reads `clip,labels` or `clip,start,end,labels` rows (labels: "a|b" or a Python-style list); the header names the columns. */
export async function readShotTruth(file: string, classes: string[]): Promise<ShotTruth[]> {
  let rows: Record<string, string>[];
  try {
    rows = parse(await fs.readFile(file, 'utf8'), { columns: true, skip_empty_lines: true, bom: true, trim: true }) as Record<string, string>[];
  } catch (err) {
    throw new VisidError('E_INPUT', `not a readable truth CSV: ${(err as Error).message}`, { item: file });
  }
  if (rows.length === 0) throw new VisidError('E_DATASET', 'truth file has no rows', { item: file });
  const known = new Set(classes);
  return rows.map((r, i) => {
    const where = `${file}:${i + 2}`;
    const clip = r['clip'] ?? r['clip_id'] ?? r['shot'];
    if (!clip) throw new VisidError('E_INPUT', 'row has no clip (columns: clip[,start,end],labels)', { item: where });
    const labels = splitLabelCell(r['labels'] ?? r['features'] ?? '');
    for (const l of labels) if (!known.has(l)) throw new VisidError('E_INPUT', `unknown feature '${l}'`, { item: where });
    const num = (v: string | undefined, name: string) => {
      if (v === undefined || v === '') return undefined;
      const x = Number(v);
      if (!Number.isFinite(x) || x < 0) throw new VisidError('E_INPUT', `${name} '${v}' is not a time in seconds`, { item: where });
      return x;
    };
    const start = num(r['start'], 'start');
    const end = num(r['end'], 'end');
    if (start !== undefined && end !== undefined && !(end > start)) throw new VisidError('E_INPUT', `end ${end} is not after start ${start}`, { item: where });
    return { clip, start, end, labels };
  });
}

/** Each clip's features: the union over its shots. */
export function clipTruth(shots: ShotTruth[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const s of shots) {
    const set = out.get(s.clip) ?? new Set<string>();
    for (const l of s.labels) set.add(l);
    out.set(s.clip, set);
  }
  return out;
}

/**
 * 0/1 label rows for the indexed frames that fall inside a shot with times (start ≤ t < end), with the frames'
 * global rows; frames outside every timed shot are left out (their truth is unknown).
 */
export function frameTruth(clips: ClipEntry[], shots: ShotTruth[], classes: string[]): { rows: number[]; labels: Float32Array[] } {
  const byClip = new Map<string, ShotTruth[]>();
  for (const s of shots) if (s.start !== undefined && s.end !== undefined) byClip.set(s.clip, [...(byClip.get(s.clip) ?? []), s]);
  const rows: number[] = [];
  const labels: Float32Array[] = [];
  for (const clip of clips) {
    const list = byClip.get(clip.id);
    if (!list) continue;
    clip.times.forEach((t, f) => {
      const shot = list.find((s) => t >= s.start! && t < s.end!);
      if (!shot) return;
      const y = new Float32Array(classes.length);
      for (const l of shot.labels) y[classes.indexOf(l)] = 1;
      rows.push(clip.start + f);
      labels.push(y);
    });
  }
  return { rows, labels };
}
