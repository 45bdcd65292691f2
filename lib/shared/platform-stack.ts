import { Duration, Fn, RemovalPolicy, Stack, StackProps, Tags } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { destroysData, EnvironmentConfig } from '../config';
import { environmentName } from './naming';

/**
 * The stacks of one environment: the lifecycle stages (Source, Ingestion, Storage, Transform,
 * Serving) and the undercurrents every stage shares (Foundation) or that drives them
 * (Orchestration).
 */
export type PlatformStackName =
  | 'Foundation'
  | 'Storage'
  | 'Source'
  | 'Ingestion'
  | 'Transform'
  | 'Serving'
  | 'Orchestration';

/** Properties every stack of an environment takes. */
export interface PlatformStackProps extends StackProps {
  /** The validated environment configuration. */
  readonly config: EnvironmentConfig;
}

/** The stack name: app, environment and stack, so environments can share an account. */
export function platformStackName(config: EnvironmentConfig, stack: PlatformStackName): string {
  return environmentName(config, stack);
}

/**
 * Base of every stack of an environment: names the stack after app, environment and stack,
 * tags every resource (the `stage` tag holds the stack name), and turns the config's
 * data-protection choices into CDK values.
 */
export abstract class PlatformStack extends Stack {
  public readonly config: EnvironmentConfig;

  protected constructor(scope: Construct, stage: PlatformStackName, props: PlatformStackProps) {
    // The description and the `stage` tag keep their wording: changing them would change every template.
    const { config, ...stackProps } = props;
    super(scope, stage, {
      stackName: platformStackName(config, stage),
      description: `${config.appName} ${config.envName}: ${stage} stage of the data platform`,
      env: { account: config.account, region: config.region },
      terminationProtection: config.envName === 'prod',
      ...stackProps,
    });
    this.config = config;
    Tags.of(this).add('app', config.appName);
    Tags.of(this).add('environment', config.envName);
    Tags.of(this).add('stage', stage);
  }

  /**
   * The AZs of the stack, as `Fn::GetAZs` picks resolved at deploy time: `network.maxAzs` of
   * them whether or not account and region are known, so that synthesis never looks AZs up
   * in an AWS account (the default would, once the CLI passes an account and region).
   */
  public override get availabilityZones(): string[] {
    return Array.from({ length: this.config.network.maxAzs }, (_, i) => Fn.select(i, Fn.getAzs()));
  }

  /**
   * Whether data goes with the stack: both keys, `dataProtection.removalPolicy: 'destroy'` and
   * `-c removeDataOnDestroy=true`. With only the first, data is retained.
   */
  protected get destroysData(): boolean {
    return destroysData(this.config);
  }

  /** Removal policy of data-bearing resources that cannot be snapshotted (buckets, keys, log groups). */
  protected get dataRemovalPolicy(): RemovalPolicy {
    return this.destroysData ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
  }

  /** Empty buckets on stack deletion: `dataProtection.autoDeleteObjects`, only where data is destroyed. */
  protected get autoDeleteObjects(): boolean {
    return this.destroysData && this.config.dataProtection.autoDeleteObjects;
  }

  /** Removal policy of resources that can be snapshotted on deletion (databases). */
  protected get snapshotRemovalPolicy(): RemovalPolicy {
    switch (this.config.dataProtection.removalPolicy) {
      case 'destroy':
        return this.destroysData ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
      case 'snapshot':
        return RemovalPolicy.SNAPSHOT;
      case 'retain':
        return RemovalPolicy.RETAIN;
    }
  }

  /** Log retention of every log group. */
  protected get logRetention(): logs.RetentionDays {
    return this.config.dataProtection.logRetentionDays as logs.RetentionDays;
  }

  /** Waiting period before a deleted KMS key is gone (only reached in environments that destroy). */
  protected get keyPendingWindow(): Duration {
    return Duration.days(this.config.envName === 'prod' ? 30 : 7);
  }
}
