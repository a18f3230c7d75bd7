// The one-way arrows of visid's source tree (see ARCHITECTURE.md), checked by dependency-cruiser in the test suite
// (test/architecture.test.ts) so that a wrong-way import fails CI. Type-only imports count: a circle through types
// is still a circle for a reader.

/**
 * Engine folders in pipeline order; each may import itself and the folders listed (everything else in src/ is out
 * of bounds). Jobs may import any engine folder, pipeline/ and demo/; tour/ (the real-photo demo) composes the engine and
 * several jobs; the CLI and server compose everything.
 */
const ENGINE = {
  util: [],
  formats: ['util'],
  images: ['util', 'formats'],
  tf: ['util'],
  data: ['util', 'formats', 'images'],
  augment: ['util', 'images', 'data'],
  models: ['util', 'formats', 'images', 'tf'],
  miners: ['util'],
  losses: ['util', 'tf', 'models', 'miners'],
  index: ['util', 'formats', 'data'],
  search: ['util', 'formats', 'models', 'index'],
  eval: ['util', 'index', 'search'],
  train: ['util', 'formats', 'images', 'tf', 'data', 'augment', 'models', 'miners', 'losses', 'index', 'search', 'eval'],
  pipeline: ['util', 'formats', 'images', 'tf', 'data', 'augment', 'models', 'miners', 'losses', 'index', 'search', 'eval', 'train'],
  demo: ['util', 'formats', 'images', 'data', 'augment'],
};
const ENGINE_FOLDERS = Object.keys(ENGINE);

const layerRules = Object.entries(ENGINE).map(([from, allowed]) => ({
  name: `${from}-imports-downstream-only`,
  comment: `src/${from}/ may import only ${allowed.length ? allowed.map((a) => `src/${a}/`).join(', ') : 'node packages'} (and itself): the arrows follow the pipeline, never back up it`,
  severity: 'error',
  from: { path: `^src/${from}/` },
  to: { path: '^src/', pathNot: [`^src/(${[from, ...allowed].join('|')})/`] },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'jobs-use-the-engine-not-each-other',
      comment: 'a job (src/jobs/<job>/) imports the engine, pipeline/, demo/ and its own folder; not another job, the server or the CLI (cli/options.ts, the shared option parsers, excepted)',
      severity: 'error',
      from: { path: '^src/jobs/([^/]+)/' },
      to: { path: '^src/', pathNot: [`^src/(${ENGINE_FOLDERS.join('|')})/`, '^src/jobs/$1/', '^src/cli/options\\.ts$'] },
    },
    {
      name: 'nothing-imports-the-api-barrel',
      comment: 'src/api.ts re-exports the library for its users; no module of src/ imports it (each imports the module it needs)',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/api\\.ts$' },
      to: { path: '^src/api\\.ts$' },
    },
    {
      name: 'tour-composes-the-jobs-not-the-cli',
      comment: 'src/tour/ (visid demo on real photos) composes the engine, pipeline/, demo/ and several jobs; the CLI and the server call it, it calls neither (nothing below it may import it: the layer and job rules say so)',
      severity: 'error',
      from: { path: '^src/tour/' },
      to: { path: '^src/(cli|server)/' },
    },
    {
      name: 'server-does-not-use-the-cli',
      comment: 'the HTTP server composes the engine and the jobs; the command line is a sibling, not a layer below it',
      severity: 'error',
      from: { path: '^src/server/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'library-does-not-import-src-tests-or-benches',
      comment: 'src/ never imports test/ or bench/',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'no-circular',
      comment: 'no import circles, type-only ones included',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'every import resolves (a moved file leaves no dangling import)',
      severity: 'error',
      from: {},
      // tfjs-node is optional: tf/runtime.ts loads it only when asked for (--backend tensorflow) and says how to install it.
      to: { couldNotResolve: true, pathNot: ['^@tensorflow/tfjs-node$'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.d.ts'] },
  },
};
