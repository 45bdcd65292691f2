import * as fs from 'fs';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { accountBaselineRequested, ENVIRONMENTS, EnvironmentConfig, EnvironmentName, readContext, resolveConfig } from '../../lib/config';
import { addComplianceChecks, buildAccountBaseline, buildPlatform, buildStages, Platform } from '../../lib/app';
import { AccountStack } from '../../lib/account/account-stack';
import { EXAMPLE_TARGET_CONTEXT } from './example-account';

/**
 * The context of cdk.json (`new App()` in a test does not read it, so tests pass it explicitly),
 * and no construct creation stack traces: they go to the cloud assembly's metadata, not to the
 * templates, and under jest each is source-mapped, which took a seventh of the CPU of the
 * TypeScript tests (docs/testing.md#how-long-it-takes).
 */
export const CDK_CONTEXT: Record<string, unknown> = {
  ...JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8')).context,
  'aws:cdk:disable-creation-stack-traces': true,
  'aws:cdk:disable-stack-trace': true,
};

/**
 * What every app of the tests leaves out: the construct tree written as `tree.json` beside the
 * templates, which no test reads (writing it was about 5% of the TypeScript tests' CPU).
 */
const TEST_APP_PROPS = { treeMetadata: false } as const;

/**
 * An app for a unit test: cdk.json's context ({@link CDK_CONTEXT}) and no built-in CloudFormation
 * validation, whose engine (WebAssembly) took about 2 s to start in each test file that used it;
 * the compliance tests turn it on (`synthPlatform(env, { compliance: true })`).
 */
export function testApp(): App {
  return new App({ ...TEST_APP_PROPS, context: CDK_CONTEXT, builtinCloudFormationValidation: false });
}

/** A partial config patch, applied field by field. */
export type ConfigPatch = { [K in keyof EnvironmentConfig]?: Partial<EnvironmentConfig[K]> | EnvironmentConfig[K] };

/** The config of an environment with fields replaced (not validated: use for building bad configs too). */
export function patchedConfig(envName: EnvironmentName, patch: ConfigPatch = {}): EnvironmentConfig {
  const base = ENVIRONMENTS[envName] as unknown as Record<string, unknown>;
  const result: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const current = base[key];
    result[key] =
      value !== null && typeof value === 'object' && !Array.isArray(value) && typeof current === 'object'
        ? { ...(current as object), ...value }
        : value;
  }
  return result as unknown as EnvironmentConfig;
}

/** Options of {@link synthPlatform}. */
export interface SynthOptions {
  /** Config patch on top of the environment's config. */
  readonly patch?: ConfigPatch;
  /** Run the four cdk-nag packs and the CloudFormation validator (slow; for test/snapshots/templates.test.ts). */
  readonly compliance?: boolean;
  /**
   * Context as the CLI's `-c key=value` passes it (on top of cdk.json's, `env` and the
   * environment's `EXAMPLE_TARGET_CONTEXT`), read by the same code as bin/app.ts, e.g.
   * `{ removeDataOnDestroy: 'true' }`.
   * @default - only the example target: dev retains its data; staging and prod deploy to the
   *   documentation account 123456789012 in us-east-1, prod alerts data-oncall@example.com
   */
  readonly context?: Record<string, unknown>;
}

/** A synthesized platform of one environment. */
export interface SynthesizedPlatform extends Platform {
  readonly app: App;
  readonly config: EnvironmentConfig;
  /** The account stack, when the context asks for it (`accountBaseline: 'true'`). */
  readonly account?: AccountStack;
  /** Template of a stack, from the one synthesis of the app. */
  template(stack: keyof Platform): Template;
}

/**
 * The platforms a test file has synthesized, by environment and options: tests only read them,
 * and a whole synthesis takes about a second of CPU (a test file asked for the same one up to
 * three times).
 */
const synthesized = new Map<string, SynthesizedPlatform>();

/**
 * Builds and synthesizes every stack of one environment, as `cdk synth -c env=<name>` does,
 * with the context staging and prod need (`EXAMPLE_TARGET_CONTEXT`: documentation values only).
 * The same environment and options give the same (read-only) platform within a test file.
 */
export function synthPlatform(envName: EnvironmentName, options: SynthOptions = {}): SynthesizedPlatform {
  const key = JSON.stringify([envName, options]);
  const known = synthesized.get(key);
  if (known) {
    return known;
  }
  const platform = synthesizePlatform(envName, options);
  synthesized.set(key, platform);
  return platform;
}

/** The app of an environment as {@link synthPlatform} and {@link synthStages} build it. */
function environmentApp(envName: EnvironmentName, options: SynthOptions): App {
  return new App({
    ...TEST_APP_PROPS,
    // Lambda bundling is skipped in unit tests (its own test bundles the handler, and the
    // entrypoint test runs the real synth); templates are otherwise identical.
    context: { ...CDK_CONTEXT, ...EXAMPLE_TARGET_CONTEXT[envName], ...options.context, env: envName, 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: options.compliance ?? false,
  });
}

function synthesizePlatform(envName: EnvironmentName, options: SynthOptions): SynthesizedPlatform {
  const app = environmentApp(envName, options);
  const config = resolveConfig(patchedConfig(envName, options.patch), {}, readContext(app));
  const platform = buildPlatform(app, config);
  const account = accountBaselineRequested(readContext(app)) ? buildAccountBaseline(app, config) : undefined;
  if (options.compliance) {
    addComplianceChecks(app);
  }
  app.synth();
  const templates = new Map<keyof Platform, Template>();
  return {
    ...platform,
    app,
    config,
    account,
    template(stack) {
      if (!templates.has(stack)) {
        templates.set(stack, Template.fromStack(platform[stack]));
      }
      return templates.get(stack)!;
    },
  };
}

/**
 * Builds only the first `count` stacks of an environment (lib/app.ts `buildStages`), with
 * the same context as {@link synthPlatform}, and synthesizes them.
 */
export function synthStages(envName: EnvironmentName, count: number): Partial<Platform> {
  const app = environmentApp(envName, {});
  const stages = buildStages(app, resolveConfig(patchedConfig(envName), {}, readContext(app)), count);
  app.synth();
  return stages;
}

/** The stage stacks, in deploy order. */
export const STACK_KEYS: readonly (keyof Platform)[] = [
  'foundation',
  'storage',
  'source',
  'ingestion',
  'transform',
  'serving',
  'orchestration',
];
