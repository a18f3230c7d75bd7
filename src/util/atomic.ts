// Crash-safe file writes: temp file + fsync + rename + directory fsync, so readers see the old or the new file, never half.
import { promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

/** Writes `data` to `file` atomically: a crash leaves either the previous content or the new one. */
export async function writeFileAtomic(file: string, data: string | Uint8Array | Uint8Array[]): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await fs.open(tmp, 'wx');
  try {
    const parts = Array.isArray(data) ? data : [data];
    for (const part of parts) {
      if (typeof part === 'string') await handle.writeFile(part, 'utf8');
      else await handle.write(part, 0, part.byteLength);
    }
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/** Makes a rename durable: the directory entry itself must reach the disk. */
export async function fsyncDir(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic there.
  } finally {
    await handle?.close();
  }
}
