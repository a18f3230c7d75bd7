import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { loadDataset, readFolderDataset, readManifestDataset, VisidError } from '../src/api.js';
import { tempDir, writeSolid } from './helpers.js';

test('folder per label: ids are relative paths, labels are folder names, order is stable', async (t) => {
  const root = tempDir(t);
  await writeSolid(path.join(root, 'b', 'x.jpg'), [1, 2, 3]);
  await writeSolid(path.join(root, 'a', 'y.png'), [1, 2, 3]);
  await writeSolid(path.join(root, 'a', 'sub', 'z.webp'), [1, 2, 3]);
  await fs.writeFile(path.join(root, 'a', 'notes.txt'), 'not an image');
  await writeSolid(path.join(root, 'loose.jpg'), [1, 2, 3]);
  const ds = await readFolderDataset(root);
  assert.deepEqual(
    ds.items.map((i) => [i.id, i.label]),
    [
      ['a/sub/z.webp', 'a'],
      ['a/y.png', 'a'],
      ['b/x.jpg', 'b'],
      ['loose.jpg', undefined],
    ],
  );
  assert.equal(ds.items[2]!.path, path.join(root, 'b', 'x.jpg'));
});

test('Hotel-ID layout: train_images/<hotel_id>/*.jpg', async (t) => {
  const root = tempDir(t);
  await writeSolid(path.join(root, 'train_images', '36363', '1.jpg'), [1, 2, 3]);
  await writeSolid(path.join(root, 'train_images', '12', '2.jpg'), [1, 2, 3]);
  await fs.mkdir(path.join(root, 'train_masks'));
  const ds = await loadDataset(root);
  assert.deepEqual(ds.items.map((i) => [i.id, i.label]), [
    ['train_images/12/2.jpg', '12'],
    ['train_images/36363/1.jpg', '36363'],
  ]);
});

test('empty or missing folders are refused by name', async (t) => {
  const root = tempDir(t);
  await assert.rejects(readFolderDataset(root), (e: VisidError) => e.code === 'E_DATASET' && e.message.includes(root));
  await assert.rejects(readFolderDataset(path.join(root, 'nope')), (e: VisidError) => e.code === 'E_NOT_FOUND');
});

test('CSV manifest: labels, multi-labels, coordinates, split and group', async (t) => {
  const root = tempDir(t);
  await writeSolid(path.join(root, 'img', '1.jpg'), [1, 2, 3]);
  await writeSolid(path.join(root, 'img', '2.jpg'), [1, 2, 3]);
  await fs.writeFile(
    path.join(root, 'm.csv'),
    'path,label,labels,lat,lon,utm_east,utm_north,split,group\n' +
      'img/1.jpg,h1,flood|smoke,45.5,-73.25,,,train,g1\n' +
      'img/2.jpg,h2,,,,500000.5,4649776.2,test,\n',
  );
  const ds = await readManifestDataset(path.join(root, 'm.csv'));
  assert.deepEqual(ds.items[0], { id: 'img/1.jpg', path: path.join(root, 'img', '1.jpg'), label: 'h1', labels: ['flood', 'smoke'], lat: 45.5, lon: -73.25, split: 'train', group: 'g1' });
  assert.deepEqual(ds.items[1], { id: 'img/2.jpg', path: path.join(root, 'img', '2.jpg'), label: 'h2', utmEast: 500000.5, utmNorth: 4649776.2, split: 'test' });
});

test('JSONL manifest with a labels array', async (t) => {
  const root = tempDir(t);
  await writeSolid(path.join(root, 'a.png'), [1, 2, 3]);
  await fs.writeFile(path.join(root, 'm.jsonl'), '{"path":"a.png","labels":["x","y"],"lat":1,"lon":2}\n\n');
  const ds = await loadDataset(path.join(root, 'm.jsonl'));
  assert.deepEqual(ds.items[0]!.labels, ['x', 'y']);
  assert.equal(ds.items[0]!.lat, 1);
});

async function manifestError(t: Parameters<typeof tempDir>[0], body: string, ext = 'csv'): Promise<VisidError> {
  const root = tempDir(t);
  await writeSolid(path.join(root, 'data', 'ok.jpg'), [1, 2, 3]);
  await fs.writeFile(path.join(root, 'outside.jpg'), 'x');
  const file = path.join(root, 'data', `m.${ext}`);
  await fs.writeFile(file, body);
  try {
    await readManifestDataset(file);
  } catch (err) {
    assert.ok(err instanceof VisidError, String(err));
    return err;
  }
  throw new Error('expected an error');
}

test('manifest errors name the file and line', async (t) => {
  let e = await manifestError(t, 'path,label\nok.jpg,a\nmissing.jpg,b\n');
  assert.equal(e.code, 'E_NOT_FOUND');
  assert.match(e.message, /m\.csv:3: file 'missing\.jpg' does not exist/);

  e = await manifestError(t, 'path,label\nok.jpg,a\nok.jpg,b\n');
  assert.equal(e.code, 'E_DUPLICATE');
  assert.match(e.message, /m\.csv:3: duplicate id 'ok\.jpg' \(first on line 2\)/);

  e = await manifestError(t, 'path,lat,lon\nok.jpg,north,3\n');
  assert.match(e.message, /m\.csv:2: column 'lat' is not a number/);

  e = await manifestError(t, 'path,lat,lon\nok.jpg,95,3\n');
  assert.match(e.message, /latitude 95 is outside/);

  e = await manifestError(t, 'path,lat\nok.jpg,5\n');
  assert.match(e.message, /'lat' and 'lon' must be given together/);

  e = await manifestError(t, 'path,label\n../outside.jpg,a\n');
  assert.equal(e.code, 'E_PATH_ESCAPE');
  assert.match(e.message, /m\.csv:2: path '\.\.\/outside\.jpg' escapes the data root/);

  e = await manifestError(t, 'path,label\n/etc/passwd,a\n');
  assert.equal(e.code, 'E_PATH_ESCAPE');

  e = await manifestError(t, 'label\na\n');
  assert.match(e.message, /m\.csv:2: row has no 'path'/);

  e = await manifestError(t, 'path,label\n"ok.jpg,a\n');
  assert.match(e.message, /malformed CSV/);

  e = await manifestError(t, '{"path":"ok.jpg"}\n{oops\n', 'jsonl');
  assert.match(e.message, /m\.jsonl:2: invalid JSON/);

  e = await manifestError(t, 'path\n');
  assert.match(e.message, /manifest has no rows/);
});

test('a symlink inside the root that points outside is refused', async (t) => {
  const root = tempDir(t);
  const data = path.join(root, 'data');
  await writeSolid(path.join(root, 'secret.jpg'), [1, 2, 3]);
  await fs.mkdir(data);
  await fs.symlink(path.join(root, 'secret.jpg'), path.join(data, 'link.jpg'));
  await fs.writeFile(path.join(data, 'm.csv'), 'path\nlink.jpg\n');
  await assert.rejects(readManifestDataset(path.join(data, 'm.csv')), (e: VisidError) => e.code === 'E_PATH_ESCAPE' && /through a link/.test(e.message));
});
