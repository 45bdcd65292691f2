import * as path from 'path';
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { FLEX_WORKER_TYPES, GlueExecutionClass, TransformConfig } from '../config';
import { GLUE_SCRIPTS_DIR } from '../lake/datasets';
import { acknowledgeWildcardResource, grantKeyEncryptDecrypt } from '../shared/grants';
import { LeastPrivilegeRole } from '../shared/least-privilege-role';
import { StageAlarms } from '../shared/stage-alarms';

/** The Glue version of every Spark job: Spark 3.5 on Python 3.11. */
export const GLUE_VERSION = glue.GlueVersion.V5_0;

/** The Spark catalog name under which every job sees the Iceberg tables: `glue_catalog.<database>.<table>`. */
export const ICEBERG_CATALOG = 'glue_catalog';

/**
 * The Spark settings that make {@link ICEBERG_CATALOG} an Iceberg catalog backed by the Glue
 * Data Catalog with its data under `warehouse` (as AWS documents for Glue 5.0 with
 * `--datalake-formats iceberg`): the Iceberg SQL extensions, the Glue catalog implementation
 * and Iceberg's S3 file IO.
 */
export function icebergSparkConf(warehouse: string): Record<string, string> {
  return {
    'spark.sql.extensions': 'org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions',
    [`spark.sql.catalog.${ICEBERG_CATALOG}`]: 'org.apache.iceberg.spark.SparkCatalog',
    [`spark.sql.catalog.${ICEBERG_CATALOG}.warehouse`]: warehouse,
    [`spark.sql.catalog.${ICEBERG_CATALOG}.catalog-impl`]: 'org.apache.iceberg.aws.glue.GlueCatalog',
    [`spark.sql.catalog.${ICEBERG_CATALOG}.io-impl`]: 'org.apache.iceberg.aws.s3.S3FileIO',
  };
}

/** The namespace of Glue's own job metrics, which every job role may put metrics into. */
export const GLUE_METRICS_NAMESPACE = 'Glue';
/** A custom CloudWatch namespace (the jobs' metrics sink checks the same pattern). */
const METRICS_NAMESPACE = /^[A-Za-z0-9._/#:-]{1,255}$/;


/**
 * What a job's capacity and limits come from (the `transform` config, or a part of it). Retries
 * are deliberately not part of it: every job runs with `MaxRetries` 0, see {@link GlueSparkJob}.
 */
export type GlueJobSizing = Pick<TransformConfig, 'workerType' | 'maxWorkers' | 'timeoutMinutes' | 'executionClass'>;

/** Files never shipped to Glue (and never part of an asset hash). */
const ASSET_EXCLUDES = ['**/__pycache__', '**/*.pyc', '.pytest_cache'];

/**
 * Glue code from a local asset whose reader gets `s3:GetObject` on exactly that object
 * (the stock `Code.fromAsset` grants `s3:GetObject*`, `s3:GetBucket*` and `s3:List*`).
 */
class ExactAssetCode extends glue.Code {
  constructor(private readonly asset: s3assets.Asset) {
    super();
  }

  public bind(_scope: Construct, grantable: iam.IGrantable): glue.CodeConfig {
    grantable.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [this.asset.bucket.arnForObjects(this.asset.s3ObjectKey)],
      }),
    );
    return { s3Location: { bucketName: this.asset.s3BucketName, objectKey: this.asset.s3ObjectKey } };
  }
}

/** Properties of a {@link GlueSparkJob}. */
export interface GlueSparkJobProps {
  /** What the job does; becomes the Glue job description. */
  readonly description: string;
  /** The entrypoint, relative to `glue-scripts/`, e.g. `jobs/clickstream_raw_to_curated.py`. */
  readonly script: string;
  /**
   * Directory relative to `glue-scripts/` zipped and shipped with `--extra-py-files`.
   * @default 'lib' (the `undercurrent_glue` package)
   */
  readonly pythonPackageDir?: string;
  /** Job arguments (names without the leading `--`), e.g. zone paths. */
  readonly arguments: Record<string, string>;
  /** Worker type, scale, timeout and execution class. */
  readonly sizing: GlueJobSizing;
  /** Key of the job's S3 output and bookmarks (the lake key). */
  readonly dataKey: kms.IKey;
  /** Key of the job's log groups. */
  readonly logKey: kms.IKey;
  /** Retention of the job's log groups. */
  readonly logRetention: logs.RetentionDays;
  /** What happens to the log groups when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
  /** The stage's alarms; the job's FAILED, TIMEOUT and STOPPED runs notify its topic. */
  readonly alarms: StageAlarms;
  /**
   * Keep job bookmarks so a run processes only new input.
   * @default true
   */
  readonly bookmarks?: boolean;
  /**
   * Glue connections the job uses (e.g. JDBC into the VPC). The role gets `glue:GetConnection`
   * on them and the EC2 network-interface permissions Glue needs to place the job in the VPC.
   * @default - no connection; the job runs outside any VPC
   */
  readonly connections?: glue.IConnection[];
  /**
   * Where the job runs: `STANDARD` (dedicated capacity) or `FLEX` (spare capacity, cheaper,
   * start and run time may vary; Glue 3.0 or later, G.1X or G.2X workers only).
   * @default - `sizing.executionClass`
   */
  readonly executionClass?: GlueExecutionClass;
  /**
   * Iceberg tables through the Glue Data Catalog: `--datalake-formats iceberg` and the Spark
   * settings of {@link icebergSparkConf}, with the warehouse at the root of this bucket. The
   * job still needs Glue catalog and S3 permissions on exactly the tables it writes.
   * @default - no Iceberg
   */
  readonly icebergWarehouse?: s3.IBucket;
  /**
   * Custom CloudWatch namespace of the job's own metrics: passed as `--metrics_namespace`,
   * and the role may put metrics into it besides Glue's namespace.
   * @default - the role may put metrics into the Glue namespace only, and no argument is passed
   */
  readonly metricsNamespace?: string;
}

/**
 * What Glue does in the VPC of a connection on the job role's behalf, on Resource "*" as
 * AWSGlueServiceRole grants it: the Describe calls (no resource-level permission) and the
 * network interfaces Glue creates in subnets and under ids it picks at run time. All are in
 * `UNSCOPED_ACTIONS`, so they land in the role's unscoped policy. Tagging is scoped apart
 * ({@link GLUE_VPC_TAG_ACTIONS}).
 */
export const GLUE_VPC_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DeleteNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSecurityGroups',
  'ec2:DescribeSubnets',
  'ec2:DescribeVpcAttribute',
  'ec2:DescribeVpcEndpoints',
  'ec2:DescribeRouteTables',
] as const;

/** How Glue tags what it creates in a VPC: the tag actions of AWSGlueServiceRole. */
export const GLUE_VPC_TAG_ACTIONS = ['ec2:CreateTags', 'ec2:DeleteTags'] as const;
/** The only tag key Glue may set or remove (AWSGlueServiceRole's `aws:TagKeys` condition). */
export const GLUE_SERVICE_TAG_KEY = 'aws-glue-service-resource';
/** The EC2 resource types Glue tags (AWSGlueServiceRole's resources), each `<type>/*` of this account and region. */
export const GLUE_TAGGED_RESOURCE_TYPES = ['network-interface', 'security-group', 'instance'] as const;

/**
 * The log groups Glue 5.0 writes a job's logs to when the job's security configuration encrypts
 * CloudWatch logs with KMS and `--custom-logGroup-prefix` is set: Glue inserts
 * `<security configuration name>-role/<job role name>` between the prefix and `error` / `output`
 * (AWS Glue developer guide, "Logging for AWS Glue jobs", section "Security configuration with
 * Amazon CloudWatch logging"; see docs/glue-logging.md). `roleName` may be a token.
 */
export function glueLogGroupNames(prefix: string, securityConfigurationName: string, roleName: string): { error: string; output: string } {
  const base = `${prefix}/${securityConfigurationName}-role/${roleName}`;
  return { error: `${base}/error`, output: `${base}/output` };
}

/** The explicit name of a stack's Glue security configuration, which Glue puts into its jobs' log group names. */
export function glueSecurityConfigurationName(stack: Stack): string {
  return `${stack.stackName}-glue`;
}

/**
 * A Glue 5.0 PySpark job with the platform's defaults: its own least-privilege role, the
 * stack's Glue security configuration (encrypted output, logs and bookmarks), the KMS-encrypted
 * log groups with retention that Glue writes to under that configuration (see
 * {@link glueLogGroupNames}), real-time logging, job and observability metrics, auto scaling,
 * bookmarks, timeout, no Glue-level retries, and an alert on every failed, timed-out or stopped
 * run.
 *
 * `MaxRetries` is fixed at 0 and no caller can change it: a Glue-level retry is a new job run
 * that a Step Functions task waiting on the first run (`glue:startJobRun.sync`) does not follow,
 * so the workflow would fail and alert while the retry runs on, out of order with the stages
 * after it. Retries belong to the workflow's task (`transform.workflowRetries`).
 *
 * The construct is `IGrantable`: grant it its inputs and outputs with the helpers in
 * `grants.ts`, nothing else.
 */
export class GlueSparkJob extends Construct implements iam.IGrantable {
  /** The Glue job (a `PySparkFlexEtlJob` when it runs FLEX). */
  public readonly job: glue.SparkJob;
  /** The role the job runs as. */
  public readonly role: LeastPrivilegeRole;
  /** The log groups Glue writes the job's logs to: `[error, output]` (see {@link glueLogGroupNames}). */
  public readonly logGroups: logs.LogGroup[];
  public readonly grantPrincipal: iam.IPrincipal;
  /** The entrypoint, relative to `glue-scripts/`. */
  public readonly script: string;

  constructor(scope: Construct, id: string, props: GlueSparkJobProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.role = new LeastPrivilegeRole(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('glue.amazonaws.com'),
      description: `Runs the Glue job ${this.node.path}`,
    });
    this.grantPrincipal = this.role;
    this.script = props.script;

    // Glue names the log groups after the prefix, the security configuration and the role (see
    // glueLogGroupNames): the stack pre-creates exactly those, KMS-encrypted with retention, and
    // the role may write to them and to nothing else.
    const securityConfig = securityConfiguration(stack, props.dataKey, props.logKey);
    const logPrefix = `/aws-glue/${stack.stackName}/${id}`;
    const logGroupNames = glueLogGroupNames(logPrefix, glueSecurityConfigurationName(stack), this.role.roleName);
    this.logGroups = (['error', 'output'] as const).map(
      (kind) =>
        new logs.LogGroup(this, kind === 'error' ? 'ErrorLogs' : 'OutputLogs', {
          logGroupName: logGroupNames[kind],
          encryptionKey: props.logKey,
          retention: props.logRetention,
          removalPolicy: props.removalPolicy,
        }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        // Glue creates the groups (AWS documents that it does; here they exist already, and
        // CreateLogGroup on their exact names creates nothing else), associates the security
        // configuration's key with them (without logs:AssociateKmsKey Glue turns the logging
        // off) and writes its streams. Group-level actions are checked on the bare group ARN;
        // the group's `Arn` attribute (`...:log-group:<name>:*`) covers its streams.
        actions: ['logs:CreateLogGroup', 'logs:AssociateKmsKey', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [
          ...this.logGroups.map((g) => stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: g.logGroupName, arnFormat: ArnFormat.COLON_RESOURCE_NAME })),
          ...this.logGroups.map((g) => g.logGroupArn),
        ],
      }),
    );
    const executionClass = props.executionClass ?? props.sizing.executionClass;
    if (executionClass === 'FLEX' && !FLEX_WORKER_TYPES.includes(props.sizing.workerType)) {
      throw new Error(
        `Glue job ${this.node.path} runs FLEX on ${props.sizing.workerType} workers; Glue runs Flex jobs on ${FLEX_WORKER_TYPES.join(' or ')} only: choose one of those or STANDARD.`,
      );
    }
    const { metricsNamespace } = props;
    if (metricsNamespace !== undefined && (!METRICS_NAMESPACE.test(metricsNamespace) || metricsNamespace.startsWith('AWS/'))) {
      throw new Error(
        `Glue job ${this.node.path}: metricsNamespace "${metricsNamespace}" is not a custom CloudWatch namespace; use letters, digits and . _ / # : - (at most 255), not starting with "AWS/".`,
      );
    }
    const namespaces = metricsNamespace ? [GLUE_METRICS_NAMESPACE, metricsNamespace] : GLUE_METRICS_NAMESPACE;
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        // Metrics have no resource ARN (UNSCOPED_ACTIONS); the namespace condition narrows it.
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': namespaces } },
      }),
    );
    grantKeyEncryptDecrypt(this.role, props.dataKey);
    grantKeyEncryptDecrypt(this.role, props.logKey);

    const connections = props.connections ?? [];
    if (connections.length > 0) {
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['glue:GetConnection'],
          resources: [stack.formatArn({ service: 'glue', resource: 'catalog' }), ...connections.map((c) => c.connectionArn)],
        }),
      );
      this.role.addToPrincipalPolicy(
        // EC2 Describe* calls have no resource-level permissions, and Glue creates and deletes its
        // network interfaces in subnets and under ids it picks at run time (UNSCOPED_ACTIONS).
        new iam.PolicyStatement({ actions: [...GLUE_VPC_ACTIONS], resources: ['*'] }),
      );
      // Tagging exactly as AWSGlueServiceRole allows it: only Glue's own tag key, only on the
      // network interfaces, security groups and instances of this account and region.
      const tagged = GLUE_TAGGED_RESOURCE_TYPES.map((type) =>
        stack.formatArn({ service: 'ec2', resource: type, resourceName: '*', arnFormat: ArnFormat.SLASH_RESOURCE_NAME }),
      );
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: [...GLUE_VPC_TAG_ACTIONS],
          resources: tagged,
          conditions: { 'ForAllValues:StringEquals': { 'aws:TagKeys': [GLUE_SERVICE_TAG_KEY] } },
        }),
      );
      GLUE_TAGGED_RESOURCE_TYPES.forEach((type, i) =>
        acknowledgeWildcardResource(
          this.role,
          tagged[i],
          `Glue tags the ${type}s it creates for the connection under ids it picks at run time; only with its own tag key "${GLUE_SERVICE_TAG_KEY}" (aws:TagKeys condition), as AWSGlueServiceRole allows.`,
        ),
      );
    }

    const packageAsset = new s3assets.Asset(this, 'PythonPackage', {
      path: path.join(GLUE_SCRIPTS_DIR, props.pythonPackageDir ?? 'lib'),
      exclude: ASSET_EXCLUDES,
    });
    const scriptAsset = new s3assets.Asset(this, 'Script', {
      path: path.join(GLUE_SCRIPTS_DIR, props.script),
    });

    const args: Record<string, string> = {
      '--custom-logGroup-prefix': logPrefix,
      '--enable-auto-scaling': 'true',
      '--job-bookmark-option': props.bookmarks ?? true ? 'job-bookmark-enable' : 'job-bookmark-disable',
    };
    if (props.icebergWarehouse) {
      args['--datalake-formats'] = 'iceberg';
      // Glue takes several Spark settings as one --conf value chaining further --conf pairs.
      args['--conf'] = Object.entries(icebergSparkConf(`${props.icebergWarehouse.s3UrlForObject()}/`))
        .map(([key, value]) => `${key}=${value}`)
        .join(' --conf ');
    }
    if (metricsNamespace) {
      args['--metrics_namespace'] = metricsNamespace;
    }
    for (const [name, value] of Object.entries(props.arguments)) {
      if (name.startsWith('-')) {
        throw new Error(`Glue job argument "${name}" of ${this.node.path}: give names without leading dashes.`);
      }
      if (args[`--${name}`] !== undefined) {
        throw new Error(`Glue job argument "${name}" of ${this.node.path} is set by the construct; pass it through its own property.`);
      }
      args[`--${name}`] = value;
    }

    const jobProps: glue.PySparkFlexEtlJobProps = {
      description: props.description,
      role: this.role,
      glueVersion: GLUE_VERSION,
      script: new ExactAssetCode(scriptAsset),
      extraPythonFiles: [new ExactAssetCode(packageAsset)],
      workerConfiguration: {
        workerType: workerType(props.sizing.workerType),
        numberOfWorkers: props.sizing.maxWorkers,
      },
      timeout: Duration.minutes(props.sizing.timeoutMinutes),
      // Never a Glue-level retry: the workflow retries the run it follows (see the class comment).
      maxRetries: 0,
      maxConcurrentRuns: 1,
      securityConfiguration: securityConfig,
      connections,
      continuousLogging: { enabled: true, quiet: true },
      enableMetrics: true,
      enableObservabilityMetrics: true,
      defaultArguments: args,
    };
    this.job =
      executionClass === 'FLEX' ? new glue.PySparkFlexEtlJob(this, 'Resource', jobProps) : new glue.PySparkEtlJob(this, 'Resource', jobProps);
    // Explicit either way, so that the template says where each job runs.
    (this.job.node.defaultChild as glue.CfnJob).executionClass = executionClass;

    props.alarms.addEventAlert(`${id}RunFailed`, `Glue job ${id} run failed, timed out or was stopped`, {
      source: ['aws.glue'],
      detailType: ['Glue Job State Change'],
      detail: { jobName: [this.job.jobName], state: ['FAILED', 'TIMEOUT', 'STOPPED'] },
    });
  }
}

/**
 * The Glue security configuration of a stack, shared by its jobs: SSE-KMS for S3 output,
 * KMS for CloudWatch logs, client-side KMS for job bookmarks. One per stack, so that each
 * job and its configuration are reviewed (and checked by cdk-nag) in one template.
 */
function securityConfiguration(stack: Stack, dataKey: kms.IKey, logKey: kms.IKey): glue.ISecurityConfiguration {
  const id = 'GlueSecurityConfiguration';
  const existing = stack.node.tryFindChild(id) as glue.SecurityConfiguration | undefined;
  if (existing) {
    if (existing.s3EncryptionKey !== dataKey || existing.cloudWatchEncryptionKey !== logKey) {
      throw new Error(
        `The Glue jobs of stack ${stack.stackName} share one security configuration: give every job the same dataKey and logKey, or put the job in another stack.`,
      );
    }
    return existing;
  }
  return new glue.SecurityConfiguration(stack, id, {
    // Explicit: Glue puts the name into the jobs' log group names (glueLogGroupNames).
    securityConfigurationName: glueSecurityConfigurationName(stack),
    s3Encryption: glue.S3Encryption.kms(dataKey),
    cloudWatchEncryption: glue.CloudWatchEncryption.kms(logKey),
    jobBookmarksEncryption: glue.JobBookmarksEncryption.clientSideKms(dataKey),
  });
}

function workerType(name: GlueJobSizing['workerType']): glue.WorkerType {
  switch (name) {
    case 'G.1X':
      return glue.WorkerType.G_1X;
    case 'G.2X':
      return glue.WorkerType.G_2X;
    case 'G.4X':
      return glue.WorkerType.G_4X;
    case 'G.8X':
      return glue.WorkerType.G_8X;
  }
}
