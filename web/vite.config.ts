// Builds the web page into dist/web, which `visid serve` serves (no CDN, everything bundled).
import { defineConfig } from 'vite';

export default defineConfig({
  root: new URL('.', import.meta.url).pathname,
  build: { outDir: new URL('../dist/web', import.meta.url).pathname, emptyOutDir: true },
});
