// Report routes: the HTML reports of `visid eval --report` in the --reports folder, listed and served by exact name.
import { promises as fs } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { VisidError } from '../../util/errors.js';
import { resolveInsideRoot } from '../../data/paths.js';
import type { ServerContext } from '../context.js';

export async function reportRoutes(app: FastifyInstance, ctx: ServerContext): Promise<void> {
  const { options } = ctx;
  // Reports: only the .html files listed in the folder, looked up by exact name, are ever read.
  const listReports = async (): Promise<string[]> => {
    if (!options.reportsDir) return [];
    const names = await fs.readdir(options.reportsDir).catch(() => [] as string[]);
    return names.filter((n) => /^[\w][\w.-]*\.html$/.test(n)).sort();
  };
  app.get('/reports', { schema: { description: 'HTML reports written by visid eval --report into the --reports folder.' } }, async () =>
    (await listReports()).map((name) => ({ name, url: `/reports/${encodeURIComponent(name)}` })),
  );
  app.get('/reports/:name', { schema: { params: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } } }, async (req, reply) => {
    const { name } = req.params as { name: string };
    if (!(await listReports()).includes(name)) throw new VisidError('E_NOT_FOUND', `no report named '${name}'`);
    const file = await resolveInsideRoot(options.reportsDir!, name, name);
    reply.header('content-type', 'text/html; charset=utf-8').header('content-security-policy', "default-src 'none'; img-src data:; style-src 'unsafe-inline'");
    return reply.send(await fs.readFile(file));
  });
}
