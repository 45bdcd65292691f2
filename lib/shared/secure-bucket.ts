import { Annotations, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge, COMPLIANCE_PACKS } from './nag';

/** Properties of a {@link SecureBucket}. */
export interface SecureBucketProps {
  /**
   * Customer-managed key for SSE-KMS (with an S3 bucket key to cut KMS requests).
   * Required unless `accessLogDestination` is true.
   * @default - none; only an access-log destination may go without (S3 delivers server access logs only to SSE-S3 buckets)
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Bucket that receives this bucket's server access logs. Required unless
   * `accessLogDestination` is true.
   * @default - none
   */
  readonly serverAccessLogsBucket?: s3.IBucket;
  /**
   * This bucket is the server access-log destination itself: SSE-S3, no access logs of its own.
   * @default false
   */
  readonly accessLogDestination?: boolean;
  /** What happens to the bucket when its stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
  /**
   * Empty the bucket on stack deletion. Only with `RemovalPolicy.DESTROY`.
   * @default false
   */
  readonly autoDeleteObjects?: boolean;
  /**
   * Age after which noncurrent object versions expire.
   * @default Duration.days(90)
   */
  readonly noncurrentVersionExpiration?: Duration;
  /**
   * Zone-specific lifecycle rules, added after the default rule (noncurrent versions,
   * incomplete multipart uploads).
   * @default - only the default rule
   */
  readonly lifecycleRules?: s3.LifecycleRule[];
  /**
   * Send the bucket's object events to the account's default EventBridge bus (set on the
   * bucket itself, `NotificationConfiguration.EventBridgeConfiguration`, not through CDK's
   * notifications custom resource and its function).
   * @default false
   */
  readonly eventBridge?: boolean;
}

/**
 * An S3 bucket whose security settings are fixed, not remembered by each caller:
 * block all public access, bucket-owner-enforced ownership, TLS 1.2+ only (bucket policy),
 * versioning, SSE-KMS with a customer key and bucket key, server access logs, and lifecycle
 * rules that expire noncurrent versions and abort stale multipart uploads.
 *
 * No object lock, by decision: every bucket of the platform expires objects by lifecycle
 * (raw, quarantine, query results and logs by age; every zone its noncurrent versions), and the
 * jobs replace partitions they own. Object lock would make those deletes fail for the retention
 * period. Versioning with noncurrent-version expiry is the recovery mechanism instead; a bucket
 * that must be immutable (e.g. an audit archive) would be a separate bucket created with lock.
 */
export class SecureBucket extends Construct {
  /** The bucket. */
  public readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: SecureBucketProps) {
    super(scope, id);
    const logDestination = props.accessLogDestination ?? false;
    if (!logDestination && !props.encryptionKey) {
      throw new Error(`SecureBucket ${this.node.path} needs an encryptionKey: data buckets use SSE-KMS with a customer key.`);
    }
    if (!logDestination && !props.serverAccessLogsBucket) {
      throw new Error(`SecureBucket ${this.node.path} needs a serverAccessLogsBucket: every data bucket logs its access.`);
    }
    if (logDestination && props.serverAccessLogsBucket) {
      throw new Error(
        `SecureBucket ${this.node.path} is an access-log destination: it does not log its own access, so do not give it a serverAccessLogsBucket.`,
      );
    }
    if (logDestination && props.encryptionKey) {
      throw new Error(
        `SecureBucket ${this.node.path} is an access-log destination: S3 delivers server access logs only to SSE-S3 buckets, so do not give it an encryptionKey.`,
      );
    }
    if (props.autoDeleteObjects && props.removalPolicy !== RemovalPolicy.DESTROY) {
      throw new Error(`SecureBucket ${this.node.path}: autoDeleteObjects needs RemovalPolicy.DESTROY.`);
    }

    // A log destination in another stack is referenced, not modified: CDK would otherwise add a
    // statement per source bucket to that stack's bucket policy. The destination admits log
    // delivery for the buckets of its account itself (see below).
    const logsTarget = props.serverAccessLogsBucket;
    const serverAccessLogsBucket =
      logsTarget && Stack.of(logsTarget) !== Stack.of(this)
        ? s3.Bucket.fromBucketAttributes(this, 'AccessLogsTarget', { bucketArn: logsTarget.bucketArn, bucketName: logsTarget.bucketName })
        : logsTarget;

    this.bucket = new s3.Bucket(this, 'Resource', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      encryption: logDestination ? s3.BucketEncryption.S3_MANAGED : s3.BucketEncryption.KMS,
      encryptionKey: props.encryptionKey,
      bucketKeyEnabled: logDestination ? undefined : true,
      serverAccessLogsBucket,
      serverAccessLogsPrefix: logDestination ? undefined : `${id.toLowerCase()}/`,
      removalPolicy: props.removalPolicy,
      autoDeleteObjects: props.autoDeleteObjects ?? false,
      lifecycleRules: [
        {
          id: 'NoncurrentVersionsAndStaleUploads',
          noncurrentVersionExpiration: props.noncurrentVersionExpiration ?? Duration.days(90),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
        ...(props.lifecycleRules ?? []),
      ],
    });

    if (serverAccessLogsBucket !== logsTarget) {
      Annotations.of(this.bucket).acknowledgeWarning(
        '@aws-cdk/aws-s3:accessLogsPolicyNotAdded',
        "The access-log destination is another stack's SecureBucket, whose own policy admits log delivery for every bucket of its account.",
      );
    }
    if (props.eventBridge) {
      (this.bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
        eventBridgeConfiguration: { eventBridgeEnabled: true },
      };
    }
    acknowledge(
      this.bucket,
      COMPLIANCE_PACKS,
      'S3BucketReplicationEnabled',
      'Cross-region replication is a disaster-recovery decision per deployment, not a default: the bucket is versioned, KMS-encrypted and retained in prod, so deleted or overwritten objects are recoverable in-region.',
    );
    if (logDestination) {
      // Log delivery writes here for the buckets of this account, and no other: one statement
      // in this bucket's own policy, so that source buckets in other stacks change nothing here.
      this.bucket.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'AllowLogDeliveryForThisAccount',
          principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
          actions: ['s3:PutObject'],
          resources: [this.bucket.arnForObjects('*')],
          conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
        }),
      );
      acknowledge(
        this.bucket,
        ['AwsSolutions'],
        'S1',
        'This is the server access-log destination; logging its own access would log the log writes themselves in a loop.',
      );
      acknowledge(
        this.bucket,
        COMPLIANCE_PACKS,
        'S3BucketLoggingEnabled',
        'This is the server access-log destination; logging its own access would log the log writes themselves in a loop.',
      );
      acknowledge(
        this.bucket,
        COMPLIANCE_PACKS,
        'S3DefaultEncryptionKMS',
        'S3 server access log delivery supports only SSE-S3 destination buckets; access logs hold request metadata, not lake data.',
      );
    }
  }
}
