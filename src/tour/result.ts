// What `visid demo` on real photos found (src/tour/photos.ts), which its report (report.ts) shows.

export interface DemoPhoto {
  file: string;
  /** A letter: deepface does not name its people. */
  person: string;
  role: 'enrol' | 'identify' | 'query';
}

export interface IdentifiedPhoto {
  file: string;
  person: string;
  enrolled: boolean;
  /** 'person X' or 'unknown' (or 'no face'). */
  identity: string;
  /** The right answer: the person's name when enrolled, else 'unknown'. */
  expected: string;
  correct: boolean;
  /** The best enrolled identity's score, and its name. */
  bestScore?: number;
  bestIdentity?: string;
  /** The annotated photo, relative to `out`. */
  annotated: string;
}

export interface FoundCopy {
  /** The copy, relative to `out`. */
  copy: string;
  source: string;
  edits: string;
  /** The applied ops, as the pipeline traced them. */
  ops: string[];
  /** The top reference, its score and its inliers. */
  top: { reference: string; score: number; inliers: number };
  /** The runner-up. */
  next?: { reference: string; score: number; inliers: number };
  found: boolean;
  /** The drawing of the copy beside its top reference with the inlier lines, relative to `out`. */
  drawing: string;
  drawn: number;
}

export interface PhotoDemoResult {
  out: string;
  report: string;
  photos: DemoPhoto[];
  faces: { recognizer: string; model: string; threshold: number; enrolled: Array<{ file: string; person: string }>; identified: IdentifiedPhoto[] };
  copies: { model: string; references: number; /** Candidates verified per copy. */ verified: number; minInliers: number; found: FoundCopy[] };
  search: { model: string; query: string; person: string; indexed: number; results: Array<{ file: string; person: string; score: number }> };
  seconds: { faces: number; copies: number; search: number; total: number };
}
