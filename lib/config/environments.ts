import { EnvironmentConfig, EnvironmentName, InterfaceEndpointName, REQUIRED_INTERFACE_ENDPOINTS } from './schema';

/** Without NAT egress: the endpoints the workloads in the VPC need. */
const WORKLOAD_ENDPOINTS: readonly InterfaceEndpointName[] = REQUIRED_INTERFACE_ENDPOINTS;

/**
 * The three environments. `dev` is cheap and can be destroyed; `prod` keeps its data and
 * is protected; `staging` is prod-shaped at a smaller size.
 *
 * Account, region and prod's alert addresses are deliberately absent: they belong to whoever
 * deploys. dev takes `CDK_DEFAULT_ACCOUNT` / `CDK_DEFAULT_REGION` (the credentials'); staging
 * and prod deploy only to a pinned target: set `account` / `region` here or pass
 * `-c account=<12 digits> -c region=<region>`, and for prod `operations.alertEmails` here or
 * `-c alertEmails=a@example.com,b@example.com` (synth fails without them).
 */
export const ENVIRONMENTS: Record<EnvironmentName, EnvironmentConfig> = {
  dev: {
    envName: 'dev',
    appName: 'Undercurrent',
    dataProtection: {
      removalPolicy: 'destroy',
      autoDeleteObjects: true,
      logRetentionDays: 14,
    },
    network: {
      vpcCidr: '10.10.0.0/16',
      maxAzs: 2,
      // One NAT gateway costs less than the six interface endpoints the workloads need, per AZ.
      egress: 'nat',
      natGateways: 1,
      interfaceEndpoints: [],
    },
    storage: {
      // Cheap: raw is kept three months, quarantine two weeks, old versions a week.
      rawTransitionDays: 30,
      rawExpirationDays: 90,
      quarantineExpirationDays: 14,
      quarantineTransitionDays: 0,
      noncurrentVersionExpirationDays: 7,
      queryResultsExpirationDays: 3,
    },
    source: {
      instanceClass: 't4g.micro',
      allocatedStorageGiB: 20,
      maxAllocatedStorageGiB: 50,
      multiAz: false,
      backupRetentionDays: 1,
      deletionProtection: false,
      port: 3407,
      databaseName: 'classicmodels',
      binlogRetentionHours: 24,
      loadSampleData: true,
    },
    streaming: {
      capacityMode: 'provisioned',
      shardCount: 1,
      retentionHours: 24,
      bufferIntervalSeconds: 300,
      bufferSizeMiB: 64,
    },
    cdc: { enabled: false, maxCapacityUnits: 2, createDmsVpcRole: false },
    transform: {
      workerType: 'G.1X',
      maxWorkers: 2,
      timeoutMinutes: 30,
      workflowRetries: 0,
      // Nobody waits for dev runs: spare capacity at the Flex price.
      executionClass: 'FLEX',
    },
    warehouse: {
      enabled: false,
      nodeType: 'ra3.large',
      numberOfNodes: 1,
      port: 5450,
      adminUsername: 'warehouse_admin',
      snapshotRetentionDays: 1,
      maintenanceWindow: 'sun:03:00-sun:03:30',
    },
    serving: {
      athenaBytesScannedCutoffPerQuery: 1_000_000_000,
      // Cheap: invoked every 30 s at most; no site-down alarm, as dev has no real traffic.
      liveMetrics: {
        enabled: true,
        batchWindowSeconds: 30,
        minEventsPerMinute: 0,
        anomalyBandStdDevs: 0,
        maxErrorRatePercent: 5,
        lateAfterMinutes: 10,
      },
      // No QuickSight in dev: it needs the account's Enterprise subscription and its groups.
      quickSight: { enabled: false },
    },
    operations: {
      alertEmails: [],
      scheduleEnabled: false,
      schedule: 'cron(0 3 * * ? *)',
    },
    // Only the deployment role administers Lake Formation; add people's roles here.
    governance: { lakeAdminArns: [], lakeFormationOnlyByDefault: false },
  },
  staging: {
    envName: 'staging',
    appName: 'Undercurrent',
    dataProtection: {
      removalPolicy: 'retain',
      autoDeleteObjects: false,
      logRetentionDays: 90,
    },
    network: {
      vpcCidr: '10.20.0.0/16',
      maxAzs: 2,
      egress: 'endpoints',
      natGateways: 0,
      interfaceEndpoints: WORKLOAD_ENDPOINTS,
    },
    storage: {
      rawTransitionDays: 30,
      rawExpirationDays: 365,
      quarantineExpirationDays: 30,
      quarantineTransitionDays: 0,
      noncurrentVersionExpirationDays: 30,
      queryResultsExpirationDays: 7,
    },
    source: {
      instanceClass: 't4g.medium',
      allocatedStorageGiB: 50,
      maxAllocatedStorageGiB: 200,
      multiAz: false,
      backupRetentionDays: 7,
      deletionProtection: true,
      port: 3407,
      databaseName: 'classicmodels',
      binlogRetentionHours: 72,
      loadSampleData: false,
    },
    streaming: {
      capacityMode: 'on-demand',
      shardCount: 1,
      retentionHours: 48,
      bufferIntervalSeconds: 120,
      bufferSizeMiB: 64,
    },
    cdc: { enabled: false, maxCapacityUnits: 4, createDmsVpcRole: false },
    transform: {
      workerType: 'G.1X',
      maxWorkers: 5,
      timeoutMinutes: 60,
      workflowRetries: 1,
      executionClass: 'STANDARD',
    },
    warehouse: {
      enabled: false,
      nodeType: 'ra3.large',
      numberOfNodes: 1,
      port: 5450,
      adminUsername: 'warehouse_admin',
      snapshotRetentionDays: 7,
      maintenanceWindow: 'sun:03:00-sun:03:30',
    },
    serving: {
      athenaBytesScannedCutoffPerQuery: 10_000_000_000,
      // Staging's traffic is generated on demand: no site-down alarm.
      liveMetrics: {
        enabled: true,
        batchWindowSeconds: 10,
        minEventsPerMinute: 0,
        anomalyBandStdDevs: 0,
        maxErrorRatePercent: 5,
        lateAfterMinutes: 10,
      },
      // Prerequisites: QuickSight Enterprise in the account and these two groups (docs/serving.md#quicksight).
      quickSight: {
        enabled: true,
        authorGroup: 'undercurrent-staging-authors',
        viewerGroup: 'undercurrent-staging-viewers',
        // The pipeline runs at 03:00 UTC and refreshes the dashboard itself; this catches a missed refresh.
        fallbackRefreshTimeUtc: '07:00',
      },
    },
    operations: {
      alertEmails: [],
      scheduleEnabled: true,
      schedule: 'cron(0 3 * * ? *)',
    },
    // Only the deployment role administers Lake Formation; add people's roles here.
    governance: { lakeAdminArns: [], lakeFormationOnlyByDefault: false },
  },
  prod: {
    envName: 'prod',
    appName: 'Undercurrent',
    dataProtection: {
      removalPolicy: 'retain',
      autoDeleteObjects: false,
      logRetentionDays: 365,
    },
    network: {
      vpcCidr: '10.30.0.0/16',
      maxAzs: 3,
      egress: 'endpoints',
      natGateways: 0,
      interfaceEndpoints: WORKLOAD_ENDPOINTS,
    },
    storage: {
      // Raw is the replay source of everything downstream: kept forever, in Standard-IA after 30 days.
      rawTransitionDays: 30,
      rawExpirationDays: 0,
      quarantineExpirationDays: 365,
      quarantineTransitionDays: 30,
      noncurrentVersionExpirationDays: 90,
      queryResultsExpirationDays: 7,
    },
    source: {
      instanceClass: 'r6g.large',
      allocatedStorageGiB: 100,
      maxAllocatedStorageGiB: 1000,
      multiAz: true,
      backupRetentionDays: 35,
      deletionProtection: true,
      port: 3407,
      databaseName: 'classicmodels',
      binlogRetentionHours: 168,
      loadSampleData: false,
    },
    streaming: {
      capacityMode: 'on-demand',
      shardCount: 1,
      retentionHours: 168,
      bufferIntervalSeconds: 60,
      bufferSizeMiB: 128,
    },
    // Off until the curate job applies the cdc/ increments (issue "Incremental and atomic"):
    // nothing reads cdc/ yet, and a DMS ReplicationConfig does not start its replication by itself.
    cdc: { enabled: false, maxCapacityUnits: 16, createDmsVpcRole: false },
    transform: {
      workerType: 'G.2X',
      maxWorkers: 10,
      timeoutMinutes: 120,
      workflowRetries: 2,
      executionClass: 'STANDARD',
    },
    // The gold star schema for BI, two ra3.xlplus nodes; snapshots kept the maximum 35 days.
    warehouse: {
      enabled: true,
      nodeType: 'ra3.xlplus',
      numberOfNodes: 2,
      port: 5450,
      adminUsername: 'warehouse_admin',
      snapshotRetentionDays: 35,
      maintenanceWindow: 'sun:03:00-sun:03:30',
    },
    serving: {
      athenaBytesScannedCutoffPerQuery: 100_000_000_000,
      // The site is down below one event a minute, or when traffic falls under its anomaly band.
      liveMetrics: {
        enabled: true,
        batchWindowSeconds: 5,
        minEventsPerMinute: 1,
        anomalyBandStdDevs: 3,
        maxErrorRatePercent: 2,
        lateAfterMinutes: 10,
      },
      // Prerequisites: QuickSight Enterprise in the account and these two groups (docs/serving.md#quicksight).
      quickSight: {
        enabled: true,
        authorGroup: 'undercurrent-prod-authors',
        viewerGroup: 'undercurrent-prod-viewers',
        // The pipeline runs at 02:00 UTC and refreshes the dashboard itself; this catches a missed refresh.
        fallbackRefreshTimeUtc: '06:00',
      },
    },
    operations: {
      alertEmails: [],
      scheduleEnabled: true,
      schedule: 'cron(0 2 * * ? *)',
    },
    // Only the deployment role administers Lake Formation; add people's roles here.
    governance: { lakeAdminArns: [], lakeFormationOnlyByDefault: false },
  },
};
