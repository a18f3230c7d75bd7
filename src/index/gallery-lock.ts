// The gallery's writer lock: one file holding the writer's pid. Two properties make it safe with many processes
// (distributed workers commit into one gallery):
// - the lock file never exists half-written: the pid goes into a private temp file that is then hard-linked to the
//   lock name, which fails atomically when the lock exists (an empty lock read by a contender used to look "dead"
//   and was taken over while its owner was still writing: two writers, one segment name, a lost batch);
// - a lock left by a dead process is removed only by whoever holds a second, short-lived takeover lock, after
//   re-reading that it still names the same dead pid (two contenders seeing the same stale lock used to both
//   remove it, the second removing the first one's fresh lock).
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { VisidError } from '../util/errors.js';

export const LOCK = 'gallery.lock';
const TAKEOVER = 'gallery.lock.takeover';
/** A takeover lock older than this whose owner is dead was left by a process killed during the takeover itself. */
const STALE_TAKEOVER_MS = 5_000;

/** Creates `file` holding our pid, atomically; false when it exists already. */
async function createLockFile(file: string): Promise<boolean> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  await fs.writeFile(tmp, String(process.pid), { flag: 'wx' });
  try {
    await fs.link(tmp, file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    // A filesystem without hard links: exclusive create, then write (a reader may see it empty for a moment).
    try {
      await fs.writeFile(file, String(process.pid), { flag: 'wx' });
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/** What a lock file holds: null when it is missing; `pid` NaN when it is empty or not a pid. */
async function readLock(file: string): Promise<{ text: string; pid: number; ageMs: number } | null> {
  try {
    const [text, stat] = await Promise.all([fs.readFile(file, 'utf8'), fs.stat(file)]);
    return { text, pid: /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN, ageMs: Date.now() - stat.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function busy(dir: string, detail: string): VisidError {
  return new VisidError('E_LOCKED', `gallery is locked by another writer (${detail})`, { item: dir });
}

/** Removes the lock if it still holds `seen` (a dead owner's), holding the takeover lock meanwhile. */
async function takeOver(dir: string, seen: string): Promise<void> {
  const takeover = path.join(dir, TAKEOVER);
  if (!(await createLockFile(takeover))) {
    const other = await readLock(takeover);
    if (other && !(Number.isInteger(other.pid) && isAlive(other.pid)) && other.ageMs > STALE_TAKEOVER_MS) await fs.rm(takeover, { force: true });
    throw busy(dir, 'another process is taking over a stale lock');
  }
  try {
    // Only takeover holders remove a lock they do not own, so what we re-read here stays until we remove it.
    const lock = path.join(dir, LOCK);
    if ((await readLock(lock))?.text === seen) await fs.rm(lock, { force: true });
  } finally {
    await fs.rm(takeover, { force: true });
  }
}

/**
 * Takes the gallery's lock or throws E_LOCKED naming the holder; a lock left by a dead process is taken over (an
 * unreadable one once it is older than a few seconds). Callers that can wait retry on E_LOCKED.
 */
export async function acquireGalleryLock(dir: string): Promise<() => Promise<void>> {
  const lock = path.join(dir, LOCK);
  for (let attempt = 0; attempt < 4; attempt++) {
    if (await createLockFile(lock)) return () => fs.rm(lock, { force: true });
    const held = await readLock(lock);
    if (!held) continue; // released meanwhile: try again
    if (Number.isInteger(held.pid) && held.pid > 0) {
      if (isAlive(held.pid)) throw new VisidError('E_LOCKED', `gallery is being written by process ${held.pid}`, { item: dir });
    } else if (held.ageMs < STALE_TAKEOVER_MS) {
      throw busy(dir, `${lock} is being written`);
    }
    await takeOver(dir, held.text);
  }
  throw busy(dir, lock);
}
