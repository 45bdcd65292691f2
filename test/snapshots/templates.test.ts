import * as fs from 'fs';
import * as path from 'path';
import { App, CfnElement, CfnResource, Stack, Stage, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { IConstruct } from 'constructs';
import { addComplianceChecks, Platform } from '../../lib/app';
import { ENVIRONMENT_NAMES, EnvironmentName } from '../../lib/config';
import { LeastPrivilegeRole } from '../../lib/shared/least-privilege-role';
import { CDK_CONTEXT, synthPlatform, SynthesizedPlatform, SynthOptions } from '../support/platform';
import { expectSnapshotFile } from './snapshot-file';

/**
 * Each app as `cdk synth` makes it, synthesized once (with the four cdk-nag packs and the
 * CloudFormation validator, about 2 s each once cdk-nag is loaded), and checked two ways:
 *
 * - **Compliance.** Zero unacknowledged findings; every acknowledgement on one resource, with a
 *   reason, naming the exact wildcard it accepts; `*` resources only in the unscoped policies of
 *   allowlisted actions. A canary shows the checks are active.
 * - **Snapshot net** (the shipped environments): one reviewable template file per stack under
 *   `test/snapshots/<env>/<Stack>.template.json`. A difference fails the test; `npx jest -u`
 *   rewrites the files, so template changes are reviewed in the diff of the same commit. A
 *   missing file fails under `--ci` or with `CI` set (snapshot-file.ts). The cdk-nag
 *   acknowledgements written into each resource's `Metadata.cdk_nag` (and their reasons) are in
 *   the diff too; the account stack (`-c accountBaseline=true`) has its own file; staging and
 *   prod have the example target (test/support/example-account.ts).
 *
 * Asset hashes are masked in the snapshots: they change with every Glue script edit and say
 * nothing about the infrastructure (the stack tests check the wiring). What they would have
 * shown, a changed Glue script, is in test/snapshots/glue-scripts.sha256 (glue-scripts.test.ts).
 */

const ASSET_HASH = /[0-9a-f]{64}/g;

/** Every environment, spelled out: a new one needs its own snapshot directory (and is checked to be here). */
const ENVIRONMENTS = ['dev', 'staging', 'prod'] as const;

test('every environment of the config is checked and has its snapshots', () => {
  expect([...ENVIRONMENT_NAMES].sort()).toEqual([...ENVIRONMENTS].sort());
});

/** The file name of each stage stack's snapshot, in deploy order. */
const STAGE_SNAPSHOTS: readonly (readonly [file: string, stack: keyof Platform])[] = [
  ['Foundation', 'foundation'],
  ['Storage', 'storage'],
  ['Source', 'source'],
  ['Ingestion', 'ingestion'],
  ['Transform', 'transform'],
  ['Serving', 'serving'],
  ['Orchestration', 'orchestration'],
];

function normalize(template: unknown): string {
  const masked: unknown = JSON.parse(JSON.stringify(template).replace(ASSET_HASH, '<asset-hash>'));
  return `${JSON.stringify(sortResourceLists(masked), null, 2)}\n`;
}

/**
 * An IAM statement's `Resource` list is a set, which CDK orders by value, asset hashes
 * included: sorted again after masking, a Glue script edit does not reorder it.
 */
function sortResourceLists(node: unknown): unknown {
  if (Array.isArray(node)) {
    return node.map(sortResourceLists);
  }
  if (node === null || typeof node !== 'object') {
    return node;
  }
  return Object.fromEntries(
    Object.entries(node).map(([key, value]) => {
      const sorted = sortResourceLists(value);
      if (key !== 'Resource' || !Array.isArray(sorted)) {
        return [key, sorted];
      }
      const text = (item: unknown): string => JSON.stringify(item);
      return [key, [...sorted].sort((a, b) => (text(a) < text(b) ? -1 : text(a) > text(b) ? 1 : 0))];
    }),
  );
}

/** Every acknowledgement recorded in the construct tree: where, which finding, why. */
function acknowledgements(root: IConstruct): { path: string; scope: IConstruct; id: string; reason: string }[] {
  const found = [];
  for (const construct of root.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) {
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          found.push({ path: construct.node.path, scope: construct, id, reason });
        }
      }
    }
  }
  return found;
}

/** A `LeastPrivilegeRole`'s unscoped policy: the one place an IAM5[Resource::*] acknowledgement may sit. */
function isUnscopedPolicy(construct: IConstruct): boolean {
  return construct instanceof iam.ManagedPolicy && construct.node.id === 'UnscopedPolicy' && construct.node.scope instanceof LeastPrivilegeRole;
}

type TemplateStatement = { Effect?: string; Action?: string | string[]; Resource?: unknown };
type TemplateResource = {
  Type: string;
  Metadata?: { cdk_nag?: { rules_to_suppress?: { id: string }[] } };
  Properties?: { PolicyDocument?: { Statement?: TemplateStatement[] }; Policies?: { PolicyDocument?: { Statement?: TemplateStatement[] } }[] };
};

/**
 * The shipped environments as `cdk synth -c env=<name> -c accountBaseline=true` builds them
 * (each with its snapshots); dev with the second key of data destruction
 * (`-c removeDataOnDestroy=true`: deletion policies and the bucket auto-delete functions); and
 * prod with `cdc.enabled`: CDC is off everywhere until the curate job reads `cdc/`, but the
 * switch stays, so its DMS resources must pass the packs too; with it the account stack with its
 * dms-vpc-role and account defaults.
 */
const APPS: [label: string, envName: EnvironmentName, options: Omit<SynthOptions, 'compliance'>, snapshots: boolean][] = [
  ...ENVIRONMENTS.map((envName): [string, EnvironmentName, Omit<SynthOptions, 'compliance'>, boolean] => [
    envName,
    envName,
    { context: { accountBaseline: 'true' } },
    true,
  ]),
  ['dev with -c removeDataOnDestroy=true', 'dev', { context: { removeDataOnDestroy: 'true' } }, false],
  [
    'prod with cdc.enabled and the account stack with every option',
    'prod',
    {
      context: { accountBaseline: 'true' },
      patch: { cdc: { enabled: true, createDmsVpcRole: true }, governance: { lakeFormationOnlyByDefault: true } },
    },
    false,
  ],
];

describe.each(APPS)('the %s app', (_label, envName, options, snapshots) => {
  let platform: SynthesizedPlatform;
  let app: App;

  beforeAll(() => {
    // Synthesis throws (in a test) when any pack or the validator reports an unacknowledged finding.
    platform = synthPlatform(envName, { ...options, compliance: true });
    app = platform.app;
  });

  test('synthesizes with zero unacknowledged findings', () => {
    const report = JSON.parse(fs.readFileSync(path.join(app.outdir, 'validation-report.json'), 'utf8'));
    const violations = report.pluginReports.flatMap((r: { violations: unknown[] }) => r.violations);
    expect(violations).toEqual([]);
  });

  test('every cdk-nag acknowledgement is on a resource-level construct, never a stack or the app', () => {
    // aws-cdk-lib itself acknowledges one validator finding (W3010, AZ literals) on a stack.
    const acks = acknowledgements(app).filter((a) => ['AwsSolutions', 'NIST.800.53.R5', 'HIPAA.Security', 'PCI.DSS.321'].some((p) => a.id.includes(`${p}-`)));
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(Stack.isStack(ack.scope) || Stage.isStage(ack.scope)).toBe(false);
    }
  });

  test('every acknowledgement gives a reason a reviewer can read', () => {
    for (const ack of acknowledgements(app)) {
      expect(ack.reason.length).toBeGreaterThanOrEqual(60);
    }
  });

  test('every wildcard acknowledgement names the exact finding', () => {
    const iam5 = acknowledgements(app).filter((a) => a.id.includes('AwsSolutions-IAM5'));
    expect(iam5.length).toBeGreaterThan(0);
    for (const ack of iam5) {
      expect(ack.id).toMatch(/AwsSolutions-IAM5\[(Resource|Action)::.+\]$/);
    }
    // No wildcard action is acknowledged anywhere: least privilege spells out every action.
    expect(iam5.filter((a) => a.id.includes('[Action::'))).toEqual([]);
  });

  test('no role acknowledges AwsSolutions-IAM5[Resource::*]; every "*" resource is in an unscoped policy of allowlisted actions', () => {
    // The construct tree: the "*" is acknowledged on LeastPrivilegeRole unscoped policies only.
    const starAcks = acknowledgements(app).filter((a) => a.id.replace(/^[A-Za-z]+::/, '') === 'AwsSolutions-IAM5[Resource::*]');
    expect(starAcks.length).toBeGreaterThan(0);
    expect(starAcks.filter((a) => !isUnscopedPolicy(a.scope)).map((a) => a.path)).toEqual([]);

    // The templates: no role carries it in Metadata.cdk_nag, and "*" appears only in unscoped policies.
    const offenders: string[] = [];
    let unscopedStatements = 0;
    for (const stack of app.node.findAll().filter(Stack.isStack)) {
      const template = app.synth().getStackArtifact(stack.artifactId).template as { Resources: Record<string, TemplateResource> };
      // Each unscoped policy, by logical id, with the role it belongs to (which knows its allowed actions).
      const unscopedRoles = new Map(
        stack.node
          .findAll()
          .filter(isUnscopedPolicy)
          .map((p) => [stack.getLogicalId(p.node.defaultChild as CfnElement), p.node.scope as LeastPrivilegeRole] as const),
      );
      const unscoped = new Set(unscopedRoles.keys());
      for (const [id, resource] of Object.entries(template.Resources)) {
        const suppressed = (resource.Metadata?.cdk_nag?.rules_to_suppress ?? []).map((r) => r.id);
        if (resource.Type === 'AWS::IAM::Role' && suppressed.includes('AwsSolutions-IAM5[Resource::*]')) {
          offenders.push(`${stack.stackName}/${id}: role acknowledges IAM5[Resource::*]`);
        }
        if (unscoped.has(id) && !suppressed.includes('AwsSolutions-IAM5[Resource::*]')) {
          offenders.push(`${stack.stackName}/${id}: unscoped policy without its IAM5[Resource::*] acknowledgement in Metadata.cdk_nag`);
        }
        const documents =
          resource.Type === 'AWS::IAM::Role'
            ? (resource.Properties?.Policies ?? []).map((p) => p.PolicyDocument)
            : resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy'
              ? [resource.Properties?.PolicyDocument]
              : [];
        for (const statement of documents.flatMap((d) => d?.Statement ?? [])) {
          if (statement.Effect !== 'Allow' || ![statement.Resource].flat().includes('*')) {
            continue;
          }
          const actions = [statement.Action ?? []].flat();
          unscopedStatements++;
          if (!unscoped.has(id)) {
            offenders.push(`${stack.stackName}/${id} (${resource.Type}): ${JSON.stringify(actions)} on "*" outside an unscoped policy`);
          } else if (!actions.every((a) => unscopedRoles.get(id)!.allowsUnscoped(a))) {
            const role = unscopedRoles.get(id)!;
            offenders.push(`${stack.stackName}/${id}: ${JSON.stringify(actions.filter((a) => !role.allowsUnscoped(a)))} not allowed unscoped for its role`);
          }
        }
      }
    }
    expect(offenders).toEqual([]);
    expect(unscopedStatements).toBeGreaterThan(0);
  });

  if (snapshots) {
    test.each(STAGE_SNAPSHOTS)('%s matches its snapshot', (name, key) => {
      expectSnapshotFile(path.join(__dirname, envName, `${name}.template.json`), normalize(platform.template(key).toJSON()));
    });

    test('the account stack (-c accountBaseline=true) matches its snapshot', () => {
      expectSnapshotFile(path.join(__dirname, envName, 'Account.template.json'), normalize(Template.fromStack(platform.account!).toJSON()));
    });

    test('every stack of the environment has its snapshot, and there is no other', () => {
      const expected = [...STAGE_SNAPSHOTS.map(([name]) => name), 'Account'].map((name) => `${name}.template.json`).sort();
      expect(app.node.children.filter((child) => Stack.isStack(child))).toHaveLength(expected.length);
      const dir = path.join(__dirname, envName);
      expect(fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []).toEqual(expected);
    });
  }
});

describe('the checks are really active (canary)', () => {
  function synthBadApp(build: (stack: Stack) => void): () => void {
    const app = new App({ context: CDK_CONTEXT });
    build(new Stack(app, 'Canary'));
    addComplianceChecks(app);
    return () => app.synth();
  }

  test('a bucket without encryption, logging, versioning or TLS policy is caught by every pack', () => {
    const synth = synthBadApp((stack) => {
      new s3.Bucket(stack, 'Careless', { blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL });
    });
    expect(synth).toThrow(/AwsSolutions-S1/);
    expect(synth).toThrow(/AwsSolutions-S10/);
    expect(synth).toThrow(/NIST\.800\.53\.R5-S3BucketLoggingEnabled/);
    expect(synth).toThrow(/HIPAA\.Security-S3BucketVersioningEnabled/);
    expect(synth).toThrow(/PCI\.DSS\.321-S3BucketSSLRequestsOnly/);
  });

  test('a template the CloudFormation validator rejects fails the synth', () => {
    const synth = synthBadApp((stack) => {
      new CfnResource(stack, 'Misspelt', { type: 'AWS::SNS::Topic', properties: { TopicNam: 'typo' } });
    });
    expect(synth).toThrow(/TopicNam/);
  });
});
