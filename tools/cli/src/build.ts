import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { build, type Plugin } from 'esbuild';

/** Where a service's bundle goes: beside its src/, so paths relative to a module (`../migrations/`) still resolve. */
export const bundlePath = (root: string, service: string) => join(root, 'services', service, 'dist', 'main.mjs');

const BUILTINS = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

/**
 * Bundles the workspace's own TypeScript (services and @switchyard/* packages) into one file
 * per service and leaves every npm dependency to Node, imported by the absolute path esbuild
 * resolved, so the bundle needs no node_modules of its own.
 */
const npmStaysExternal: Plugin = {
  name: 'npm-stays-external',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData === 'inner' || args.path.startsWith('@switchyard/')) return undefined;
      if (BUILTINS.has(args.path)) return { path: args.path, external: true };
      const resolved = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'inner' });
      if (resolved.errors.length) return { errors: resolved.errors };
      return { path: resolved.path, external: true };
    });
  },
};

/**
 * Compiles each service to plain JavaScript before it runs. Run with tsx, every service kept
 * a loader thread and esbuild beside it (~36 MB resident each) and compiled its sources at
 * every start; a bundle is loaded by Node alone. Takes well under a second for all services.
 */
export async function buildServices(root: string, services: readonly string[]): Promise<void> {
  await Promise.all(
    services.map((service) =>
      build({
        entryPoints: [join(root, 'services', service, 'src', 'main.ts')],
        outfile: bundlePath(root, service),
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        sourcemap: true,
        // Names stay as written: logs, errors and CPU profiles show the source's function names.
        keepNames: true,
        logLevel: 'warning',
        plugins: [npmStaysExternal],
      }),
    ),
  );
}
