import { Duration } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { StorageConfig } from '../config';
import {
  CLICKSTREAM_QUARANTINE_COLUMNS,
  CLICKSTREAM_QUARANTINE_PARTITION_KEYS,
  curatedSourceTables,
  dailyDateProjection,
  declarationColumns,
  declarationPartitionKeys,
  glueColumns,
  goldIcebergTables,
  quarantineSourceTables,
  sourceRawTables,
} from './catalog';
import { ALL_TABLES, LakeFormationGrants, LakeFormationOnly, LakeFormationSettings } from './lake-formation';
import { RawDriftCrawler } from './raw-drift-crawler';
import { SecureBucket } from '../shared/secure-bucket';
import { datasetDeclaration, DatasetDeclaration, goldTableDeclarations, sourceTableDeclarations } from './datasets';
import { CLICKSTREAM_DATASET_PREFIX, CLICKSTREAM_RAW_PREFIX, SOURCE_RAW_PREFIX } from './layout';
import { PlatformStack, PlatformStackProps } from '../shared/platform-stack';
import { Warehouse } from '../serving/warehouse';
import { catalogName, pascal, resourceName } from '../shared/naming';

/** How a declaration marks a column as personal data (kept from analysts). */
export const PERSONAL_DATA = 'Personal data.';

/** The lake zones that hold data, each with a catalog database. */
export const DATA_ZONES = ['raw', 'curated', 'gold', 'quarantine'] as const;
export type DataZone = (typeof DATA_ZONES)[number];

/** Buckets of the lake: the data zones plus Athena's query results. */
export type LakeBuckets = Record<DataZone | 'queryResults', s3.IBucket>;

/** Properties of the {@link StorageStack}. */
export interface StorageStackProps extends PlatformStackProps {
  /** Key of every lake bucket. */
  readonly lakeKey: kms.IKey;
  /** Key of the Athena query-results bucket (not the lake key: analysts use it). */
  readonly queryResultsKey: kms.IKey;
  /** Destination of the buckets' server access logs. */
  readonly accessLogsBucket: s3.IBucket;
  /** The VPC whose isolated data subnets hold the warehouse (used only when `warehouse.enabled`). */
  readonly vpc: ec2.IVpc;
  /** Where the warehouse's secret rotation runs (used only when `warehouse.enabled`). */
  readonly dataClientSubnets: ec2.SubnetSelection;
  /** Topic of the warehouse alarms (used only when `warehouse.enabled`). */
  readonly alertsTopic: sns.ITopic;
  /** Key of the raw drift crawler's CloudWatch logs. */
  readonly logKey: kms.IKey;
}

/** The zones that hold a catalog table of the click events. */
export type ClickstreamTables = Record<'raw' | 'curated' | 'quarantine', glue.S3Table>;

/**
 * The zone-specific lifecycle rules, from `config.storage` (every bucket also expires
 * noncurrent versions after `noncurrentVersionExpirationDays`, through `SecureBucket`).
 * Curated and gold have none: their current objects never expire.
 */
export function zoneLifecycleRules(storage: StorageConfig): Record<keyof LakeBuckets, s3.LifecycleRule[]> {
  return {
    raw: [
      {
        id: 'RawToInfrequentAccess',
        transitions: [
          { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(storage.rawTransitionDays) },
        ],
      },
      ...(storage.rawExpirationDays > 0
        ? [{ id: 'ExpireRaw', expiration: Duration.days(storage.rawExpirationDays) }]
        : []),
    ],
    curated: [],
    gold: [],
    quarantine: [
      ...(storage.quarantineTransitionDays > 0
        ? [
            {
              id: 'QuarantineToInfrequentAccess',
              transitions: [
                {
                  storageClass: s3.StorageClass.INFREQUENT_ACCESS,
                  transitionAfter: Duration.days(storage.quarantineTransitionDays),
                },
              ],
            },
          ]
        : []),
      { id: 'ExpireQuarantine', expiration: Duration.days(storage.quarantineExpirationDays) },
    ],
    queryResults: [{ id: 'ExpireQueryResults', expiration: Duration.days(storage.queryResultsExpirationDays) }],
  };
}

/**
 * Stage 3, storage: the lake zone buckets with their lifecycle, a Glue Data Catalog database
 * per data zone, and the catalog tables of the click events (raw, curated, quarantine), derived
 * from the dataset declaration and queryable by Athena without a crawler (partition projection).
 */
export class StorageStack extends PlatformStack {
  public readonly buckets: LakeBuckets;
  public readonly databases: Record<DataZone, glue.Database>;
  /** The `clickstream_events` table of each zone the click events pass through. */
  public readonly clickstreamTables: ClickstreamTables;
  /** The Redshift warehouse over gold, when `warehouse.enabled` (lib/serving/warehouse.ts). */
  public readonly warehouse?: Warehouse;
  /** Lake Formation grants of the principals this stack owns (crawler, Redshift Spectrum). */
  public readonly lakeGrants: LakeFormationGrants;
  /** The raw `source_<table>` table of each source table, by source table name (lib/lake/catalog.ts). */
  public readonly sourceTables: Record<string, glue.S3Table>;
  /** The curated table of each source table (`<table>` in the curated database), by source table name (lib/lake/catalog.ts). */
  public readonly curatedSourceTables: Record<string, glue.S3Table>;
  /** The quarantine table of each source table (`<table>` in the quarantine database), by source table name (lib/lake/catalog.ts). */
  public readonly quarantineSourceTables: Record<string, glue.S3Table>;
  /** The gold Iceberg tables (star schema and clickstream aggregates), by table name (lib/lake/catalog.ts). */
  public readonly goldTables: Record<string, glue.CfnTable>;
  /** Log-only crawler over raw source/ that reports schema drift into its own database. */
  public readonly rawDriftCrawler: RawDriftCrawler;
  /** The registered data zones; grants depend on it. */
  public readonly lakeFormation: LakeFormationSettings;
  /** Makes this environment's databases and tables Lake Formation-only (no `IAM_ALLOWED_PRINCIPALS`). */
  public readonly lakeFormationOnly: LakeFormationOnly;

  constructor(scope: Construct, props: StorageStackProps) {
    super(scope, 'Storage', props);
    const { config } = this;
    const rules = zoneLifecycleRules(config.storage);
    // Object lock: none, by decision (see SecureBucket): every zone deletes by lifecycle or by
    // the jobs that replace partitions. The data zones publish their object events to
    // EventBridge for monitoring and the event-driven pipeline; query results do not.
    const zoneBucket = (id: string, zone: keyof LakeBuckets): s3.IBucket =>
      new SecureBucket(this, id, {
        encryptionKey: zone === 'queryResults' ? props.queryResultsKey : props.lakeKey,
        eventBridge: zone !== 'queryResults',
        serverAccessLogsBucket: props.accessLogsBucket,
        removalPolicy: this.dataRemovalPolicy,
        autoDeleteObjects: this.autoDeleteObjects,
        noncurrentVersionExpiration: Duration.days(config.storage.noncurrentVersionExpirationDays),
        lifecycleRules: rules[zone],
      }).bucket;

    this.buckets = {
      raw: zoneBucket('RawZone', 'raw'),
      curated: zoneBucket('CuratedZone', 'curated'),
      gold: zoneBucket('GoldZone', 'gold'),
      quarantine: zoneBucket('QuarantineZone', 'quarantine'),
      queryResults: zoneBucket('QueryResults', 'queryResults'),
    };

    const zoneDatabaseName = (zone: DataZone): string => catalogName(config, zone);
    const driftDatabaseName = catalogName(config, 'raw_drift');
    const database = (zone: DataZone): glue.Database =>
      new glue.Database(this, `${pascal(zone)}Database`, {
        databaseName: zoneDatabaseName(zone),
        description: `${zone} zone of ${config.appName} ${config.envName}`,
        locationUri: this.buckets[zone].s3UrlForObject(),
        removalPolicy: this.dataRemovalPolicy,
      });
    this.databases = {
      raw: database('raw'),
      curated: database('curated'),
      gold: database('gold'),
      quarantine: database('quarantine'),
    };

    if (config.warehouse.enabled) {
      this.warehouse = new Warehouse(this, 'Warehouse', {
        config: config.warehouse,
        clusterName: resourceName(config, 'warehouse'),
        encryptionKey: props.lakeKey,
        vpc: props.vpc,
        dataClientSubnets: props.dataClientSubnets,
        goldBucket: this.buckets.gold,
        goldDatabase: this.databases.gold,
        logKey: props.logKey,
        alertsTopic: props.alertsTopic,
        removalPolicy: this.dataRemovalPolicy,
        logRetention: this.logRetention,
      });
    }

    this.clickstreamTables = this.clickstreamCatalog(datasetDeclaration('clickstream_event'));
    const sources = sourceTableDeclarations();
    this.sourceTables = sourceRawTables(this, { database: this.databases.raw, bucket: this.buckets.raw }, sources);
    this.curatedSourceTables = curatedSourceTables(this, { database: this.databases.curated, bucket: this.buckets.curated }, sources);
    this.quarantineSourceTables = quarantineSourceTables(
      this,
      { database: this.databases.quarantine, bucket: this.buckets.quarantine },
      sources,
    );
    this.goldTables = goldIcebergTables(this, { database: this.databases.gold, bucket: this.buckets.gold }, goldTableDeclarations());
    this.rawDriftCrawler = new RawDriftCrawler(this, 'RawDriftCrawler', {
      rawBucket: this.buckets.raw,
      prefix: SOURCE_RAW_PREFIX,
      driftDatabaseName,
      dataKey: props.lakeKey,
      logKey: props.logKey,
      logRetention: this.logRetention,
      removalPolicy: this.dataRemovalPolicy,
    });

    // Lake Formation governs the data zones (not the query results, which are Athena's own output).
    this.lakeFormation = new LakeFormationSettings(this, 'LakeFormation', {
      locations: DATA_ZONES.map((zone) => this.buckets[zone]),
    });
    // Every database and table of the environment loses the IAM_ALLOWED_PRINCIPALS grants the
    // account's defaults may have given it, after CloudFormation created them.
    this.lakeFormationOnly = new LakeFormationOnly(this, 'LakeFormationOnly', {
      appName: config.appName,
      databaseNames: [...DATA_ZONES.map((zone) => zoneDatabaseName(zone)), driftDatabaseName],
      catalogResources: [
        ...DATA_ZONES.map((zone) => this.databases[zone]),
        this.rawDriftCrawler.database,
        ...Object.values(this.clickstreamTables),
        ...Object.values(this.sourceTables),
        ...Object.values(this.curatedSourceTables),
        ...Object.values(this.quarantineSourceTables),
        ...Object.values(this.goldTables),
      ],
    });

    this.lakeGrants = new LakeFormationGrants(this, 'LakeGrants', { settings: this.lakeFormation });
    // The drift crawler reads raw and keeps its findings in its own database.
    const crawlerRole = this.rawDriftCrawler.role;
    this.lakeGrants.grant({ principal: crawlerRole, location: this.buckets.raw, permissions: ['DATA_LOCATION_ACCESS'] });
    this.lakeGrants.grant({
      principal: crawlerRole,
      database: this.rawDriftCrawler.database,
      permissions: ['CREATE_TABLE', 'ALTER', 'DESCRIBE'],
    });
    if (this.warehouse) {
      // Redshift Spectrum reads gold, nothing else.
      this.lakeGrants.grant({
        principal: this.warehouse.copyRole,
        database: this.databases.gold,
        table: ALL_TABLES,
        permissions: ['DESCRIBE', 'SELECT'],
      });
    }
    // The guard revokes IAM_ALLOWED_PRINCIPALS only once this stack's principals have their grants.
    this.lakeFormationOnly.node.addDependency(this.lakeGrants);
  }

  /**
   * The click events in the catalog, one `clickstream_events` table per zone, each with
   * Athena partition projection over its date partitions (no crawler, no `MSCK REPAIR`).
   * The data is SSE-KMS encrypted by its bucket, which S3 decrypts for readers allowed to use
   * the lake key: not client-side encrypted, so `has_encrypted_data` is false.
   */
  private clickstreamCatalog(declaration: DatasetDeclaration): ClickstreamTables {
    const projection = (keys: readonly glue.Column[]): glue.PartitionProjection =>
      Object.fromEntries(
        keys.map((key) => {
          if (key.type.inputString !== glue.Schema.DATE.inputString && key.type.inputString !== 'string') {
            throw new Error(`Partition key "${key.name}" of ${declaration.name} is ${key.type.inputString}; only dates are projected.`);
          }
          return [key.name, dailyDateProjection()];
        }),
      );
    const gzipJson = {
      dataFormat: glue.DataFormat.JSON,
      compressed: true,
      storageParameters: [glue.StorageParameter.compressionType(glue.CompressionType.GZIP)],
    };

    // Raw: the lines as Firehose delivered them, so every column is a string (a value that
    // does not fit its declared type, e.g. an event_time without offset, must stay readable;
    // the curated table has the types). Malformed lines read as all-null rows instead of
    // failing the query. event_date is the producer's event_time prefix, or "unknown":
    // partitions whose value is not a yyyy-MM-dd date are invisible to projection.
    const rawPartitionKeys: glue.Column[] = [
      {
        name: 'event_date',
        type: glue.Schema.STRING,
        comment:
          'First 10 characters of event_time as the producer sent it, "unknown" when not a date; only yyyy-MM-dd values are visible through partition projection.',
      },
      { name: 'ingest_date', type: glue.Schema.STRING, comment: 'UTC date Firehose delivered the event (yyyy-MM-dd).' },
    ];
    const raw = new glue.S3Table(this, 'RawClickstreamEvents', {
      database: this.databases.raw,
      tableName: declaration.name,
      description: `Raw click events as delivered by Firehose (GZIP JSON lines, unparsed: every column a string). ${declaration.description ?? ''}`.trim(),
      storage: glue.S3TableStorage.fromBucket(this.buckets.raw),
      s3Prefix: CLICKSTREAM_RAW_PREFIX,
      columns: glueColumns(declaration.columns, { allStrings: true }),
      partitionKeys: rawPartitionKeys,
      partitionProjection: projection(rawPartitionKeys),
      hasEncryptedData: false,
      ...gzipJson,
    });
    (raw.node.defaultChild as glue.CfnTable).addPropertyOverride('TableInput.StorageDescriptor.SerdeInfo.Parameters', {
      'ignore.malformed.json': 'true',
    });

    // Curated: exactly the declaration (columns, types, partition keys), Parquet.
    const curatedPartitionKeys = declarationPartitionKeys(declaration);
    const curated = new glue.S3Table(this, 'CuratedClickstreamEvents', {
      database: this.databases.curated,
      tableName: declaration.name,
      description: declaration.description,
      storage: glue.S3TableStorage.fromBucket(this.buckets.curated),
      s3Prefix: CLICKSTREAM_DATASET_PREFIX,
      columns: declarationColumns(declaration),
      partitionKeys: curatedPartitionKeys,
      partitionProjection: projection(curatedPartitionKeys),
      dataFormat: glue.DataFormat.PARQUET,
      hasEncryptedData: false,
    });

    // Quarantine: the rejected lines as the clickstream job writes them (GZIP JSON by ingest_date).
    const quarantinePartitionKeys = glueColumns(CLICKSTREAM_QUARANTINE_PARTITION_KEYS);
    const quarantine = new glue.S3Table(this, 'QuarantineClickstreamEvents', {
      database: this.databases.quarantine,
      tableName: declaration.name,
      description: `Click-event lines the clickstream job rejected: the raw line, the first rule it failed, the run and when.`,
      storage: glue.S3TableStorage.fromBucket(this.buckets.quarantine),
      s3Prefix: CLICKSTREAM_DATASET_PREFIX,
      columns: glueColumns(CLICKSTREAM_QUARANTINE_COLUMNS),
      partitionKeys: quarantinePartitionKeys,
      partitionProjection: projection(quarantinePartitionKeys),
      hasEncryptedData: false,
      ...gzipJson,
    });
    return { raw, curated, quarantine };
  }
}
