/**
 * The local twin reads its facts from a synthesized cloud assembly (`cdk synth -o <dir>`), not
 * from the code's constants: this module loads every stack template of one environment and
 * resolves CloudFormation's intrinsic functions the way a deployment would, with physical names
 * the twin chooses (deterministic, derived from stack name and logical id, as CloudFormation's
 * generated names are) and one account and region.
 *
 * Supported: `Ref` (resources, parameters' defaults, pseudo parameters), `Fn::GetAtt` (the
 * attributes the templates use; others resolve to a readable placeholder), `Fn::Join`,
 * `Fn::Sub`, `Fn::Select`, `Fn::Split`, `Fn::GetAZs`, `Fn::ImportValue` (through the exports of
 * the other stacks), `Fn::If` / `Condition` with `Fn::Equals` / `Not` / `And` / `Or`,
 * `Fn::FindInMap`, `Fn::Base64`, `AWS::NoValue`. Anything else fails with the function's name and
 * where it occurred, so a template the twin cannot read is never half-understood.
 */
import * as fs from 'fs';
import * as path from 'path';

/** The account, region and partition the twin deploys into. */
export interface TwinEnvironment {
  readonly account: string;
  readonly region: string;
  readonly partition: string;
}

/** One resource of the assembly, its properties resolved. */
export interface TwinResource {
  /** The stack's artifact id, e.g. `Ingestion`. */
  readonly stack: string;
  readonly logicalId: string;
  readonly type: string;
  /** What `Ref` returns for it. */
  readonly ref: string;
  /** The resolved `Properties` (intrinsics replaced by values). */
  readonly properties: Record<string, unknown>;
  /** The construct path from the template metadata (`aws:cdk:path`), when present. */
  readonly path?: string;
}

/** A file asset of the assembly: where CDK would upload it and where it is on disk. */
export interface TwinAsset {
  readonly s3Url: string;
  /** Absolute path of the asset in the assembly (a file, or a directory packaged as zip). */
  readonly path: string;
  readonly packaging: 'file' | 'zip';
}

type Json = unknown;
interface Template {
  readonly Parameters?: Record<string, { Default?: Json; Type?: string }>;
  readonly Conditions?: Record<string, Json>;
  readonly Mappings?: Record<string, Record<string, Record<string, Json>>>;
  readonly Resources?: Record<string, { Type: string; Properties?: Json; Metadata?: Record<string, unknown>; Condition?: string }>;
  readonly Outputs?: Record<string, { Value: Json; Export?: { Name: Json }; Condition?: string }>;
}
interface StackArtifact {
  readonly id: string;
  readonly stackName: string;
  readonly template: Template;
}

/** Thrown for a template the twin cannot resolve. */
export class AssemblyError extends Error {}

const NO_VALUE = Symbol('AWS::NoValue');

/** A stack name or logical id made safe for a physical name: lower-case letters, digits, `-`. */
function slug(text: string): string {
  return text.replace(/[^A-Za-z0-9]+/g, '-').toLowerCase();
}

/**
 * The whole environment of an assembly, resolved. Resources of stacks are addressable by
 * stack and logical id; `resourcesOfType` lists them across stacks.
 */
export class TwinAssembly {
  /** Loads every stack of the assembly in `dir` (its `manifest.json`). */
  static load(dir: string, env: TwinEnvironment, overrides: AttributeOverrides = {}): TwinAssembly {
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as {
      artifacts: Record<string, { type: string; properties?: Record<string, unknown> }>;
    };
    const stacks: StackArtifact[] = [];
    const assets: TwinAsset[] = [];
    for (const [id, artifact] of Object.entries(manifest.artifacts)) {
      if (artifact.type === 'aws:cloudformation:stack') {
        const props = artifact.properties as { templateFile: string; stackName?: string };
        stacks.push({
          id,
          stackName: props.stackName ?? id,
          template: JSON.parse(fs.readFileSync(path.join(dir, props.templateFile), 'utf8')) as Template,
        });
      } else if (artifact.type === 'cdk:asset-manifest') {
        const file = (artifact.properties as { file: string }).file;
        assets.push(...readAssetManifest(dir, file, env));
      }
    }
    if (stacks.length === 0) {
      throw new AssemblyError(`${dir} holds no stack: synthesize the app into it first (npx cdk synth -o ${dir}).`);
    }
    return new TwinAssembly(dir, env, stacks, assets, overrides);
  }

  readonly resources: readonly TwinResource[];
  private readonly byKey = new Map<string, TwinResource>();
  private readonly exports = new Map<string, { stack: StackArtifact; value: Json }>();
  private readonly refs = new Map<string, string>();
  private readonly stackById = new Map<string, StackArtifact>();

  private constructor(
    readonly dir: string,
    readonly env: TwinEnvironment,
    stacks: readonly StackArtifact[],
    readonly assets: readonly TwinAsset[],
    private readonly overrides: AttributeOverrides,
  ) {
    for (const stack of stacks) {
      this.stackById.set(stack.id, stack);
      for (const [logicalId, resource] of Object.entries(stack.template.Resources ?? {})) {
        this.refs.set(`${stack.id}/${logicalId}`, this.physicalRef(stack, logicalId, resource.Type, resource.Properties));
      }
      // A secret attachment's Ref is its secret's ARN.
      for (const [logicalId, resource] of Object.entries(stack.template.Resources ?? {})) {
        const secretId = (resource.Properties as { SecretId?: { Ref?: string } } | undefined)?.SecretId?.Ref;
        if (resource.Type === 'AWS::SecretsManager::SecretTargetAttachment' && secretId) {
          this.refs.set(`${stack.id}/${logicalId}`, this.refs.get(`${stack.id}/${secretId}`)!);
        }
      }
      for (const output of Object.values(stack.template.Outputs ?? {})) {
        if (output.Export) {
          const name = this.resolve(stack, output.Export.Name, 'Outputs');
          this.exports.set(String(name), { stack, value: output.Value });
        }
      }
    }
    const resources: TwinResource[] = [];
    for (const stack of stacks) {
      for (const [logicalId, resource] of Object.entries(stack.template.Resources ?? {})) {
        if (resource.Condition && !this.condition(stack, resource.Condition)) {
          continue;
        }
        const properties = (this.resolve(stack, resource.Properties ?? {}, `${logicalId}.Properties`) ?? {}) as Record<string, unknown>;
        const item: TwinResource = {
          stack: stack.id,
          logicalId,
          type: resource.Type,
          ref: this.refs.get(`${stack.id}/${logicalId}`)!,
          properties,
          path: resource.Metadata?.['aws:cdk:path'] as string | undefined,
        };
        resources.push(item);
        this.byKey.set(`${stack.id}/${logicalId}`, item);
      }
    }
    this.resources = resources;
  }

  /** Every resource of a CloudFormation type, across stacks. */
  resourcesOfType(type: string): TwinResource[] {
    return this.resources.filter((r) => r.type === type);
  }

  /** One resource by stack id and logical id. */
  resource(stack: string, logicalId: string): TwinResource {
    const found = this.byKey.get(`${stack}/${logicalId}`);
    if (!found) {
      throw new AssemblyError(`No resource ${logicalId} in stack ${stack} of ${this.dir}.`);
    }
    return found;
  }

  /** The one resource of `type` whose `Ref` is `ref` (a bucket name, a job name, ...). */
  resourceByRef(type: string, ref: string): TwinResource {
    const found = this.resourcesOfType(type).filter((r) => r.ref === ref);
    if (found.length !== 1) {
      throw new AssemblyError(`Expected one ${type} named ${ref} in the assembly; found ${found.length}.`);
    }
    return found[0];
  }

  /** The asset that CDK uploads to `s3Url` (a job script, the shared Python library). */
  asset(s3Url: string): TwinAsset {
    const found = this.assets.find((a) => a.s3Url === s3Url);
    if (!found) {
      throw new AssemblyError(`No asset of the assembly is uploaded to ${s3Url}.`);
    }
    return found;
  }

  /** What `Fn::GetAtt` of `attribute` gives for `resource`. */
  resolveAttribute(resource: TwinResource, attribute: string): string {
    return String(this.getAtt(this.stackById.get(resource.stack)!, resource.logicalId, attribute, 'resolveAttribute'));
  }

  /** The resolved value of a stack's export. */
  exportValue(name: string): Json {
    const found = this.exports.get(name);
    if (!found) {
      throw new AssemblyError(`Fn::ImportValue of ${name}: no stack of the assembly exports it.`);
    }
    return this.resolve(found.stack, found.value, `export ${name}`);
  }

  private physicalRef(stack: StackArtifact, logicalId: string, type: string, rawProps: Json): string {
    const { account, region, partition } = this.env;
    const props = (rawProps ?? {}) as Record<string, Json>;
    const literal = (value: Json): string | undefined => (typeof value === 'string' ? value : undefined);
    const generated = `${slug(stack.stackName)}-${slug(logicalId)}`;
    switch (type) {
      case 'AWS::S3::Bucket':
        return literal(props.BucketName) ?? generated.slice(0, 63).replace(/-+$/, '');
      case 'AWS::Glue::Database':
        return literal((props.DatabaseInput as Record<string, Json> | undefined)?.Name) ?? generated;
      case 'AWS::Glue::Table':
        return literal((props.TableInput as Record<string, Json> | undefined)?.Name) ?? generated;
      case 'AWS::Glue::Connection':
        return literal((props.ConnectionInput as Record<string, Json> | undefined)?.Name) ?? generated;
      case 'AWS::Glue::Job':
      case 'AWS::Glue::SecurityConfiguration':
      case 'AWS::Glue::Crawler':
        return literal(props.Name) ?? generated;
      case 'AWS::IAM::Role':
        return literal(props.RoleName) ?? generated.slice(0, 64);
      case 'AWS::IAM::ManagedPolicy':
        return `arn:${partition}:iam::${account}:policy/${literal(props.ManagedPolicyName) ?? generated.slice(0, 128)}`;
      case 'AWS::KMS::Key':
        return `key-${slug(logicalId)}`;
      case 'AWS::SNS::Topic':
        return `arn:${partition}:sns:${region}:${account}:${literal(props.TopicName) ?? generated}`;
      case 'AWS::SecretsManager::Secret':
        return `arn:${partition}:secretsmanager:${region}:${account}:secret:${literal(props.Name) ?? generated}-twin00`;
      case 'AWS::StepFunctions::StateMachine':
        return `arn:${partition}:states:${region}:${account}:stateMachine:${literal(props.StateMachineName) ?? generated}`;
      case 'AWS::RDS::DBInstance':
        return literal(props.DBInstanceIdentifier) ?? generated;
      case 'AWS::Logs::LogGroup':
        return literal(props.LogGroupName) ?? `/twin/${generated}`;
      case 'AWS::Kinesis::Stream':
        return literal(props.Name) ?? generated;
      case 'AWS::KinesisFirehose::DeliveryStream':
        return literal(props.DeliveryStreamName) ?? generated;
      default:
        return generated;
    }
  }

  private condition(stack: StackArtifact, name: string): boolean {
    const definition = stack.template.Conditions?.[name];
    if (definition === undefined) {
      throw new AssemblyError(`Stack ${stack.id}: unknown condition ${name}.`);
    }
    return Boolean(this.resolve(stack, definition, `Conditions.${name}`));
  }

  private ref(stack: StackArtifact, name: string, where: string): Json {
    const { account, region, partition } = this.env;
    switch (name) {
      case 'AWS::AccountId':
        return account;
      case 'AWS::Region':
        return region;
      case 'AWS::Partition':
        return partition;
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return stack.stackName;
      case 'AWS::StackId':
        return `arn:${partition}:cloudformation:${region}:${account}:stack/${stack.stackName}/twin`;
      case 'AWS::NoValue':
        return NO_VALUE;
      default:
    }
    const resourceRef = this.refs.get(`${stack.id}/${name}`);
    if (resourceRef !== undefined) {
      return resourceRef;
    }
    const parameter = stack.template.Parameters?.[name];
    if (parameter) {
      return parameter.Default ?? `<parameter ${name}>`;
    }
    throw new AssemblyError(`Stack ${stack.id}, ${where}: Ref to unknown ${name}.`);
  }

  private getAtt(stack: StackArtifact, logicalId: string, attribute: string, where: string): Json {
    const resource = stack.template.Resources?.[logicalId];
    if (!resource) {
      throw new AssemblyError(`Stack ${stack.id}, ${where}: Fn::GetAtt of unknown resource ${logicalId}.`);
    }
    const override = this.overrides[resource.Type]?.[attribute];
    if (override !== undefined) {
      return override;
    }
    const ref = this.refs.get(`${stack.id}/${logicalId}`)!;
    const { account, region, partition } = this.env;
    const arn = (service: string, resourcePart: string, withRegion = true): string =>
      `arn:${partition}:${service}:${withRegion ? region : ''}:${withRegion ? account : ''}:${resourcePart}`;
    const key = `${resource.Type}.${attribute}`;
    switch (key) {
      case 'AWS::S3::Bucket.Arn':
        return `arn:${partition}:s3:::${ref}`;
      case 'AWS::S3::Bucket.RegionalDomainName':
        return `${ref}.s3.${region}.amazonaws.com`;
      case 'AWS::S3::Bucket.DomainName':
        return `${ref}.s3.amazonaws.com`;
      case 'AWS::IAM::Role.Arn':
        return `arn:${partition}:iam::${account}:role/${ref}`;
      case 'AWS::IAM::Role.RoleId':
        return `AROA${slug(logicalId).toUpperCase().replace(/-/g, '')}`.slice(0, 21);
      case 'AWS::KMS::Key.Arn':
        return arn('kms', `key/${ref}`);
      case 'AWS::KMS::Key.KeyId':
        return ref;
      case 'AWS::Logs::LogGroup.Arn':
        return arn('logs', `log-group:${ref}:*`);
      case 'AWS::Kinesis::Stream.Arn':
        return arn('kinesis', `stream/${ref}`);
      case 'AWS::KinesisFirehose::DeliveryStream.Arn':
        return arn('firehose', `deliverystream/${ref}`);
      case 'AWS::SNS::Topic.TopicArn':
        return ref;
      case 'AWS::SNS::Topic.TopicName':
        return ref.split(':').pop()!;
      case 'AWS::SecretsManager::Secret.Id':
        return ref;
      case 'AWS::StepFunctions::StateMachine.Arn':
        return ref;
      case 'AWS::StepFunctions::StateMachine.Name':
        return ref.split(':').pop()!;
      case 'AWS::Lambda::Function.Arn':
        return arn('lambda', `function:${ref}`);
      case 'AWS::RDS::DBInstance.MasterUserSecret.SecretArn':
        return arn('secretsmanager', `secret:rds!db-${ref}-twin00`);
      case 'AWS::RDS::DBInstance.Endpoint.Port':
        return String((resource.Properties as { Port?: unknown } | undefined)?.Port ?? '3306');
      case 'AWS::EC2::SecurityGroup.GroupId':
        return `sg-${slug(logicalId)}`;
      default:
        return `<${stack.id}/${logicalId}.${attribute}>`;
    }
  }

  /** Resolves every intrinsic function in `value`, as CloudFormation would in `stack`. */
  resolve(stack: StackArtifact, value: Json, where: string): Json {
    const out = this.resolveInner(stack, value, where);
    return out === NO_VALUE ? undefined : out;
  }

  private resolveInner(stack: StackArtifact, value: Json, where: string): Json {
    if (Array.isArray(value)) {
      return value.map((v, i) => this.resolveInner(stack, v, `${where}[${i}]`)).filter((v) => v !== NO_VALUE);
    }
    if (value === null || typeof value !== 'object') {
      return value;
    }
    const entries = Object.entries(value as Record<string, Json>);
    if (entries.length === 1) {
      const [fn, arg] = entries[0];
      const r = (v: Json, suffix = fn): Json => this.resolveInner(stack, v, `${where}.${suffix}`);
      switch (fn) {
        case 'Ref':
          return this.ref(stack, arg as string, where);
        case 'Fn::GetAtt': {
          const [logicalId, attribute] = Array.isArray(arg) ? (arg as string[]) : String(arg).split(/\.(.+)/);
          return this.getAtt(stack, logicalId, String(r(attribute)), where);
        }
        case 'Fn::Join': {
          const [separator, parts] = arg as [string, Json];
          return (r(parts) as Json[]).map(String).join(separator);
        }
        case 'Fn::Sub':
          return this.sub(stack, arg, where);
        case 'Fn::Select': {
          const [index, list] = arg as [Json, Json];
          const items = r(list) as Json[];
          const i = Number(r(index));
          if (!Array.isArray(items) || !(i >= 0 && i < items.length)) {
            throw new AssemblyError(`Stack ${stack.id}, ${where}: Fn::Select index ${i} out of range.`);
          }
          return items[i];
        }
        case 'Fn::Split': {
          const [separator, text] = arg as [string, Json];
          return String(r(text)).split(separator);
        }
        case 'Fn::GetAZs':
          return ['a', 'b', 'c'].map((suffix) => `${this.env.region}${suffix}`);
        case 'Fn::ImportValue':
          return this.exportValue(String(r(arg)));
        case 'Fn::Base64':
          return Buffer.from(String(r(arg))).toString('base64');
        case 'Fn::FindInMap': {
          const [map, top, second] = (arg as Json[]).map((v) => String(r(v)));
          const found = stack.template.Mappings?.[map]?.[top]?.[second];
          if (found === undefined) {
            throw new AssemblyError(`Stack ${stack.id}, ${where}: Fn::FindInMap ${map}.${top}.${second} is not in Mappings.`);
          }
          return r(found);
        }
        case 'Fn::If': {
          const [name, whenTrue, whenFalse] = arg as [string, Json, Json];
          return this.condition(stack, name) ? r(whenTrue) : r(whenFalse);
        }
        case 'Fn::Equals': {
          const [a, b] = arg as [Json, Json];
          return JSON.stringify(r(a)) === JSON.stringify(r(b));
        }
        case 'Fn::Not':
          return !r((arg as Json[])[0]);
        case 'Fn::And':
          return (arg as Json[]).every((c) => Boolean(r(c)));
        case 'Fn::Or':
          return (arg as Json[]).some((c) => Boolean(r(c)));
        case 'Condition':
          return this.condition(stack, arg as string);
        default:
          if (fn.startsWith('Fn::')) {
            throw new AssemblyError(`Stack ${stack.id}, ${where}: the twin cannot resolve ${fn}.`);
          }
      }
    }
    const result: Record<string, Json> = {};
    for (const [key, v] of entries) {
      const resolved = this.resolveInner(stack, v, `${where}.${key}`);
      if (resolved !== NO_VALUE) {
        result[key] = resolved;
      }
    }
    return result;
  }

  private sub(stack: StackArtifact, arg: Json, where: string): string {
    const [text, variables] = typeof arg === 'string' ? [arg, {}] : (arg as [string, Record<string, Json>]);
    return text.replace(/\$\{([^}!][^}]*)\}/g, (_match, name: string) => {
      if (name in variables) {
        return String(this.resolveInner(stack, variables[name], `${where}.Fn::Sub.${name}`));
      }
      if (name.includes('.') && !name.startsWith('AWS::')) {
        const [logicalId, attribute] = name.split(/\.(.+)/);
        return String(this.getAtt(stack, logicalId, attribute, where));
      }
      return String(this.ref(stack, name, where));
    }).replace(/\$\{!/g, '${');
  }
}

/**
 * Attribute values the twin substitutes for a resource type, e.g. the database endpoint
 * address of `AWS::RDS::DBInstance` becomes the local server's.
 */
export type AttributeOverrides = Readonly<Record<string, Readonly<Record<string, string>>>>;

function readAssetManifest(dir: string, file: string, env: TwinEnvironment): TwinAsset[] {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as {
    files?: Record<string, {
      source: { path: string; packaging?: 'file' | 'zip' };
      destinations: Record<string, { bucketName: string; objectKey: string }>;
    }>;
  };
  const substitute = (text: string): string =>
    text.replace(/\$\{AWS::AccountId\}/g, env.account).replace(/\$\{AWS::Region\}/g, env.region).replace(/\$\{AWS::Partition\}/g, env.partition);
  const assets: TwinAsset[] = [];
  for (const entry of Object.values(manifest.files ?? {})) {
    for (const destination of Object.values(entry.destinations)) {
      assets.push({
        s3Url: `s3://${substitute(destination.bucketName)}/${substitute(destination.objectKey)}`,
        path: path.resolve(dir, entry.source.path),
        packaging: entry.source.packaging ?? 'file',
      });
    }
  }
  return assets;
}
