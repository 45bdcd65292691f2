import { Duration } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { SecureBucket } from '../constructs/secure-bucket';
import { StageStack, StageStackProps } from './stage-stack';

/** The lake zones that hold data, each with a catalog database. */
export const DATA_ZONES = ['raw', 'curated', 'gold', 'quarantine'] as const;
export type DataZone = (typeof DATA_ZONES)[number];

/** Buckets of the lake: the data zones plus Athena's query results. */
export type LakeBuckets = Record<DataZone | 'queryResults', s3.IBucket>;

/** Properties of the {@link StorageStack}. */
export interface StorageStackProps extends StageStackProps {
  /** Key of every lake bucket. */
  readonly lakeKey: kms.IKey;
  /** Destination of the buckets' server access logs. */
  readonly accessLogsBucket: s3.IBucket;
}

/** Days after which Athena query results expire: they are reproducible by re-running the query. */
export const QUERY_RESULTS_EXPIRATION_DAYS = 7;

/**
 * Stage 3, storage: the lake zone buckets and a Glue Data Catalog database per data zone.
 */
export class StorageStack extends StageStack {
  public readonly buckets: LakeBuckets;
  public readonly databases: Record<DataZone, glue.Database>;

  constructor(scope: Construct, props: StorageStackProps) {
    super(scope, 'Storage', props);
    const { config } = this;
    const zoneBucket = (id: string, lifecycleRules?: s3.LifecycleRule[]): s3.IBucket =>
      new SecureBucket(this, id, {
        encryptionKey: props.lakeKey,
        serverAccessLogsBucket: props.accessLogsBucket,
        removalPolicy: this.dataRemovalPolicy,
        autoDeleteObjects: config.dataProtection.autoDeleteObjects,
        lifecycleRules,
      }).bucket;

    this.buckets = {
      raw: zoneBucket('RawZone'),
      curated: zoneBucket('CuratedZone'),
      gold: zoneBucket('GoldZone'),
      quarantine: zoneBucket('QuarantineZone'),
      queryResults: zoneBucket('QueryResults', [
        { id: 'ExpireQueryResults', expiration: Duration.days(QUERY_RESULTS_EXPIRATION_DAYS) },
      ]),
    };

    const prefix = `${config.appName}_${config.envName}`.toLowerCase();
    const database = (zone: DataZone): glue.Database =>
      new glue.Database(this, `${zone.charAt(0).toUpperCase()}${zone.slice(1)}Database`, {
        databaseName: `${prefix}_${zone}`,
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
  }
}
