// The web page: static files built by Vite into dist/web, served as they are (no CDN).
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { packagePath } from '../../util/package-root.js';

export async function webRoutes(app: FastifyInstance): Promise<void> {
  // The web page, built by Vite into dist/web (see web/): bundled files only, no CDN.
  const webRoot = packagePath('dist', 'web');
  if (existsSync(path.join(webRoot, 'index.html'))) {
    await app.register(fastifyStatic, { root: webRoot, prefix: '/', index: 'index.html', wildcard: false });
  } else {
    app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.status(404).send({ error: 'web page not built: run npm run build', code: 'E_NOT_FOUND' }));
  }
}
