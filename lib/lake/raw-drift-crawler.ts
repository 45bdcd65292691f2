import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeWildcardResource, grantKeyEncryptDecrypt, grantPrefixRead } from '../shared/grants';
import { LeastPrivilegeRole } from '../shared/least-privilege-role';

/** The Glue Data Catalog actions the drift crawler needs on its own database and tables: read, create and update, never delete. */
export const DRIFT_CRAWLER_CATALOG_ACTIONS = [
  'glue:GetDatabase',
  'glue:GetTable',
  'glue:GetTables',
  'glue:CreateTable',
  'glue:UpdateTable',
  'glue:GetPartition',
  'glue:GetPartitions',
  'glue:BatchGetPartition',
  'glue:BatchCreatePartition',
  'glue:UpdatePartition',
  'glue:BatchUpdatePartition',
] as const;

/** The CloudWatch Logs actions of the crawler on its one log group. */
export const DRIFT_CRAWLER_LOG_ACTIONS = ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:AssociateKmsKey'] as const;

/** Properties of {@link RawDriftCrawler}. */
export interface RawDriftCrawlerProps {
  /** The raw zone bucket. */
  readonly rawBucket: s3.IBucket;
  /** The prefix the crawler watches, e.g. `source/`. */
  readonly prefix: string;
  /** Name of the catalog database the crawler writes its inferred tables to (created here). */
  readonly driftDatabaseName: string;
  /** Key of the lake data (S3 encryption of the security configuration). */
  readonly dataKey: kms.IKey;
  /** Key of the crawler's CloudWatch logs. */
  readonly logKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** Glue cron expression. @default daily at 06:00 UTC */
  readonly schedule?: string;
}

/**
 * A Glue crawler that watches the raw source tables for schema drift, and changes nothing
 * the pipeline relies on: the code-defined `source_<table>` tables stay the contract.
 *
 * - It writes the tables it infers to a database of its own (`<app>_<env>_raw_drift`), not
 *   to the raw database: a table prefix in the raw database would keep the names apart, but
 *   a separate database makes it impossible by IAM for the crawler to touch a code-defined
 *   table, keeps the inferred tables out of the raw database's grants and of analysts' table
 *   lists, and can be dropped wholesale. Compare `raw_drift.<table>` with `raw.source_<table>`.
 * - Schema changes and deleted objects are only logged (`LOG`/`LOG`), and it crawls only
 *   folders added since the last crawl (`CRAWL_NEW_FOLDERS_ONLY`, which requires `LOG`).
 * - Its role reads only `source/` of the raw bucket and creates/updates tables only in the
 *   drift database; its logs are KMS-encrypted through a security configuration.
 */
export class RawDriftCrawler extends Construct {
  public readonly crawler: glue.CfnCrawler;
  public readonly role: LeastPrivilegeRole;
  public readonly database: glue.Database;
  public readonly securityConfiguration: glue.SecurityConfiguration;
  /** The log group the crawler writes to (the name Glue derives from role and security configuration). */
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: RawDriftCrawlerProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.database = new glue.Database(this, 'Database', {
      databaseName: props.driftDatabaseName,
      description: `Tables the raw drift crawler infers from ${props.prefix} of the raw zone, to compare with the code-defined source_ tables of the raw database.`,
      removalPolicy: props.removalPolicy,
    });

    this.role = new LeastPrivilegeRole(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('glue.amazonaws.com'),
      description: `Runs the raw drift crawler ${this.node.path}`,
    });

    this.securityConfiguration = new glue.SecurityConfiguration(this, 'SecurityConfiguration', {
      s3Encryption: glue.S3Encryption.kms(props.dataKey),
      cloudWatchEncryption: glue.CloudWatchEncryption.kms(props.logKey),
      jobBookmarksEncryption: glue.JobBookmarksEncryption.clientSideKms(props.dataKey),
    });

    // With CloudWatch encryption, Glue writes crawler logs to
    // /aws-glue/crawlers-role/<role name>-<security configuration name>.
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: `/aws-glue/crawlers-role/${this.role.roleName}-${this.securityConfiguration.securityConfigurationName}`,
      encryptionKey: props.logKey,
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });

    grantPrefixRead(this.role, { bucket: props.rawBucket, prefix: props.prefix });
    grantKeyEncryptDecrypt(this.role, props.logKey);
    const tables = stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${props.driftDatabaseName}/*` });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...DRIFT_CRAWLER_CATALOG_ACTIONS],
        resources: [
          stack.formatArn({ service: 'glue', resource: 'catalog' }),
          stack.formatArn({ service: 'glue', resource: 'database', resourceName: props.driftDatabaseName }),
          tables,
        ],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: [...DRIFT_CRAWLER_LOG_ACTIONS], resources: [this.logGroup.logGroupArn] }),
    );
    acknowledgeWildcardResource(
      this.role,
      tables,
      'The crawler creates one table per folder it finds, with names it infers: the narrowest resource is the tables of its own drift database.',
    );

    this.crawler = new glue.CfnCrawler(this, 'Crawler', {
      role: this.role.roleArn,
      databaseName: this.database.databaseName,
      description: `Watches ${props.prefix} of the raw zone for schema drift; logs changes, never updates the code-defined tables.`,
      targets: { s3Targets: [{ path: props.rawBucket.s3UrlForObject(props.prefix) }] },
      schemaChangePolicy: { updateBehavior: 'LOG', deleteBehavior: 'LOG' },
      recrawlPolicy: { recrawlBehavior: 'CRAWL_NEW_FOLDERS_ONLY' },
      schedule: { scheduleExpression: props.schedule ?? 'cron(0 6 * * ? *)' },
      crawlerSecurityConfiguration: this.securityConfiguration.securityConfigurationName,
      // One table per source table folder (source/<table>/), not one per ingest_date or run_id folder.
      configuration: JSON.stringify({ Version: 1.0, Grouping: { TableLevelConfiguration: 3 } }),
    });
    this.crawler.node.addDependency(this.role);
    this.crawler.node.addDependency(this.logGroup);
  }
}
