/**
 * The twin's stand-in for Amazon Data Firehose's delivery to S3, driven by the delivery
 * stream of the synthesized template: its bucket, its `Prefix` and `ErrorOutputPrefix` with
 * their `!{...}` expressions evaluated, its metadata-extraction (JQ) query run by a real jq 1.6
 * (Debian's `jq`, the version the template names), `AppendDelimiterToRecord`, and GZIP.
 *
 * What it does not model: buffering (one object per prefix and delivery), retries, the
 * delivery stream's IAM role (Firehose's writes are not recorded as a job's accesses).
 */
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import type { TwinAssembly, TwinResource } from './assembly';

/** What one delivery wrote. */
export interface DeliveryReport {
  /** Objects written, as `s3://bucket/key`, with their record counts. */
  readonly objects: readonly { readonly url: string; readonly records: number }[];
  readonly delivered: number;
  /** Records that went to the error output prefix (not JSON, or the query failed). */
  readonly failed: number;
}

interface S3Destination {
  readonly BucketARN: string;
  readonly Prefix: string;
  readonly ErrorOutputPrefix: string;
  readonly CompressionFormat?: string;
  readonly ProcessingConfiguration?: {
    readonly Enabled?: boolean;
    readonly Processors?: readonly { readonly Type: string; readonly Parameters?: readonly { ParameterName: string; ParameterValue: string }[] }[];
  };
  readonly DynamicPartitioningConfiguration?: { readonly Enabled?: boolean };
}

/** The one delivery stream of the assembly that reads `streamArn` (or the only one). */
export function deliveryStream(assembly: TwinAssembly): TwinResource {
  const streams = assembly.resourcesOfType('AWS::KinesisFirehose::DeliveryStream');
  if (streams.length !== 1) {
    throw new Error(`The twin expects one Firehose delivery stream in the assembly; found ${streams.length}.`);
  }
  return streams[0];
}

/**
 * Delivers `records` (the Kinesis record payloads) as Firehose would at `arrival`, into the
 * local S3 root (`<s3Root>/<bucket>/<key>`).
 */
export function deliver(stream: TwinResource, records: readonly Buffer[], arrival: Date, s3Root: string): DeliveryReport {
  const destination = stream.properties.ExtendedS3DestinationConfiguration as S3Destination | undefined;
  if (!destination) {
    throw new Error(`Delivery stream ${stream.logicalId} has no ExtendedS3DestinationConfiguration: the twin delivers to S3 only.`);
  }
  const bucket = destination.BucketARN.replace(/^arn:[^:]+:s3:::/, '');
  const processors = destination.ProcessingConfiguration?.Enabled ? (destination.ProcessingConfiguration.Processors ?? []) : [];
  for (const processor of processors) {
    if (!['MetadataExtraction', 'AppendDelimiterToRecord'].includes(processor.Type)) {
      throw new Error(`Delivery stream ${stream.logicalId}: processor ${processor.Type} is not modelled by the twin.`);
    }
  }
  const extraction = processors.find((p) => p.Type === 'MetadataExtraction');
  const parameter = (name: string): string | undefined => extraction?.Parameters?.find((p) => p.ParameterName === name)?.ParameterValue;
  const engine = parameter('JsonParsingEngine');
  if (extraction && engine !== 'JQ-1.6') {
    throw new Error(`Delivery stream ${stream.logicalId}: JsonParsingEngine ${engine} is not JQ-1.6, the only engine the twin runs.`);
  }
  const keys = extraction ? runJq(parameter('MetadataExtractionQuery') ?? '', records) : records.map(() => ({ ok: {} }));
  const delimiter = processors.some((p) => p.Type === 'AppendDelimiterToRecord') ? '\n' : '';

  const groups = new Map<string, Buffer[]>();
  let failed = 0;
  records.forEach((record, i) => {
    const extracted = keys[i];
    let prefix: string | undefined;
    if ('ok' in extracted) {
      prefix = evaluatePrefix(destination.Prefix, { keys: extracted.ok, arrival });
    }
    let body: Buffer;
    if (prefix === undefined) {
      failed += 1;
      prefix = evaluatePrefix(destination.ErrorOutputPrefix, { keys: {}, arrival, errorType: 'processing-failed' })!;
      body = Buffer.from(
        JSON.stringify({
          attemptsMade: 1,
          arrivalTimestamp: arrival.getTime(),
          errorCode: 'DynamicPartitioning.MetadataExtractionFailed',
          errorMessage: 'error' in extracted ? extracted.error : 'a partition key of the prefix is missing',
          attemptEndingTimestamp: arrival.getTime(),
          rawData: record.toString('base64'),
        }) + '\n',
      );
    } else {
      body = Buffer.concat([record, Buffer.from(delimiter)]);
    }
    groups.set(prefix, [...(groups.get(prefix) ?? []), body]);
  });

  const objects: { url: string; records: number }[] = [];
  const gzip = destination.CompressionFormat === 'GZIP';
  const streamName = stream.ref;
  for (const [prefix, bodies] of groups) {
    const stamp = arrival.toISOString().replace(/[T:]/g, '-').slice(0, 19);
    const key = `${prefix}${streamName}-1-${stamp}-${crypto.randomUUID()}${gzip ? '.gz' : ''}`;
    const file = path.join(s3Root, bucket, ...key.split('/'));
    if (!fs.existsSync(path.join(s3Root, bucket))) {
      throw new Error(`Firehose cannot deliver: bucket ${bucket} does not exist in the twin.`);
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const data = Buffer.concat(bodies);
    fs.writeFileSync(file, gzip ? zlib.gzipSync(data) : data);
    objects.push({ url: `s3://${bucket}/${key}`, records: bodies.length });
  }
  return { objects, delivered: records.length - failed, failed };
}

interface PrefixContext {
  readonly keys: Record<string, unknown>;
  readonly arrival: Date;
  readonly errorType?: string;
}

/**
 * Evaluates Firehose's `!{namespace:value}` expressions of an S3 prefix; undefined when a
 * partition key the prefix needs is missing or not a scalar (Firehose then fails the record).
 */
export function evaluatePrefix(prefix: string, context: PrefixContext): string | undefined {
  let missing = false;
  const result = prefix.replace(/!\{([A-Za-z]+):([^}]+)\}/g, (_match, namespace: string, value: string) => {
    switch (namespace) {
      case 'partitionKeyFromQuery': {
        const key = context.keys[value];
        if (key === undefined || key === null || typeof key === 'object') {
          missing = true;
          return '';
        }
        return String(key);
      }
      case 'timestamp':
        return formatTimestamp(value, context.arrival);
      case 'firehose':
        if (value === 'error-output-type' && context.errorType) {
          return context.errorType;
        }
        if (value === 'random-string') {
          return crypto.randomBytes(6).toString('hex');
        }
        throw new Error(`Firehose prefix expression !{firehose:${value}} is not modelled by the twin.`);
      default:
        throw new Error(`Firehose prefix namespace ${namespace} is not modelled by the twin.`);
    }
  });
  return missing ? undefined : result;
}

/** Java DateTimeFormatter patterns of Firehose's `!{timestamp:...}`, in UTC: yyyy, MM, dd, HH, mm, ss. */
export function formatTimestamp(pattern: string, at: Date): string {
  const fields: Record<string, string> = {
    yyyy: String(at.getUTCFullYear()).padStart(4, '0'),
    MM: String(at.getUTCMonth() + 1).padStart(2, '0'),
    dd: String(at.getUTCDate()).padStart(2, '0'),
    HH: String(at.getUTCHours()).padStart(2, '0'),
    mm: String(at.getUTCMinutes()).padStart(2, '0'),
    ss: String(at.getUTCSeconds()).padStart(2, '0'),
  };
  const rest = pattern.replace(/yyyy|MM|dd|HH|mm|ss/g, '');
  if (/[A-Za-z]/.test(rest)) {
    throw new Error(`Firehose timestamp pattern ${pattern} uses letters the twin does not format (yyyy MM dd HH mm ss).`);
  }
  return pattern.replace(/yyyy|MM|dd|HH|mm|ss/g, (field) => fields[field]);
}

/**
 * Runs the metadata-extraction query over every record with jq 1.6, one process for all:
 * each record goes in as a JSON string and comes out as `{ok: <keys>}` or `{error: ...}`.
 */
export function runJq(query: string, records: readonly Buffer[]): ({ ok: Record<string, unknown> } | { error: string })[] {
  if (records.length === 0) {
    return [];
  }
  const program = `. as $raw | try ({ok: (fromjson | ${query})}) catch {error: (. | tostring)}`;
  const input = records.map((r) => JSON.stringify(r.toString('utf8'))).join('\n');
  let output: string;
  try {
    output = execFileSync('jq', ['-c', program], { input, maxBuffer: 1 << 30, encoding: 'utf8' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new Error('The twin runs Firehose metadata queries with jq 1.6: install it (apt-get install -y jq).');
    }
    throw error;
  }
  const lines = output.split('\n').filter((l) => l !== '');
  if (lines.length !== records.length) {
    throw new Error(`jq returned ${lines.length} results for ${records.length} records.`);
  }
  return lines.map((l) => JSON.parse(l) as { ok: Record<string, unknown> } | { error: string });
}
