import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HANDLER_BUNDLING } from '../../lib/shared/handler-bundling';

/**
 * Bundles a Lambda handler as NodejsFunction bundles it in the app (`HANDLER_BUNDLING`: local
 * esbuild, one CommonJS file for the runtime's Node version, minified, the AWS SDK left to the
 * runtime) into `<outdir>/index.js`, and returns the bundle's code. Not a test file.
 */
export async function bundleHandler(entry: string, outdir: string): Promise<string> {
  const outfile = join(outdir, 'index.js');
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: HANDLER_BUNDLING.target,
    format: 'cjs',
    minify: HANDLER_BUNDLING.minify,
    external: [...(HANDLER_BUNDLING.externalModules ?? [])],
    logLevel: 'silent',
  });
  if (result.errors.length > 0) {
    throw new Error(`esbuild failed on ${entry}: ${JSON.stringify(result.errors)}`);
  }
  return readFileSync(outfile, 'utf8');
}
