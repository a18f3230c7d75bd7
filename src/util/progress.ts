// Progress for long steps: a bar with rate and ETA on a terminal, plain timestamped lines in logs and CI.
import cliProgress from 'cli-progress';

export interface Progress {
  /** Advances by `n` units. */
  tick(n?: number): void;
  /** Ends the display (prints the final line). */
  done(): void;
}

export interface ProgressOptions {
  label: string;
  total: number;
  unit?: string;
  /** Stream to write to; defaults to stderr so that --json output on stdout stays clean. */
  stream?: NodeJS.WriteStream;
  /** Force plain lines (true) or a bar (false); defaults to a bar only on a TTY. */
  plain?: boolean;
  /** Silence entirely. */
  quiet?: boolean;
}

/** A progress reporter that does nothing (library calls default to it). */
export const silentProgress: Progress = { tick() {}, done() {} };

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function createProgress(options: ProgressOptions): Progress {
  if (options.quiet) return silentProgress;
  const stream = options.stream ?? process.stderr;
  const unit = options.unit ?? 'items';
  const start = Date.now();
  let count = 0;
  if (!(options.plain ?? !stream.isTTY)) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: `${options.label} [{bar}] {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}`,
        etaBuffer: 50,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(options.total, 0, { rate: '0.0' });
    return {
      tick(n = 1) {
        count += n;
        const rate = count / Math.max((Date.now() - start) / 1000, 1e-3);
        bar.update(count, { rate: rate.toFixed(1) });
      },
      done() {
        bar.stop();
      },
    };
  }
  // Plain lines: at most one every 5 s (plus the last), so logs stay readable.
  let lastLine = 0;
  const line = (final: boolean) => {
    const elapsed = (Date.now() - start) / 1000;
    const rate = count / Math.max(elapsed, 1e-3);
    const eta = rate > 0 ? (options.total - count) / rate : Infinity;
    const pct = options.total > 0 ? ((100 * count) / options.total).toFixed(0) : '100';
    stream.write(
      `${options.label}: ${count}/${options.total} ${unit} (${pct}%) ${rate.toFixed(1)} ${unit}/s ` +
        (final ? `done in ${formatSeconds(elapsed)}\n` : `ETA ${formatSeconds(eta)}\n`),
    );
  };
  return {
    tick(n = 1) {
      count += n;
      if (Date.now() - lastLine >= 5000) {
        lastLine = Date.now();
        line(false);
      }
    },
    done() {
      line(true);
    },
  };
}
