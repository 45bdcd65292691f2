import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { AssemblyError, TwinAssembly } from '../../lib/twin/assembly';
import { deliver, deliveryStream, evaluatePrefix, formatTimestamp } from '../../lib/twin/firehose';
import { catalogTables, catalogViews, jobDefinition, usesIceberg } from '../../lib/twin/glue';
import { checkViews } from '../../lib/twin/twin';
import { servingViews } from '../../lib/serving/semantic-layer';
import { StatesError } from '../../lib/twin/workflow';
import { synthPlatform } from '../support/platform';

const ENV = { account: '123456789012', region: 'us-east-1', partition: 'aws' };

describe('the twin reads the synthesized dev assembly', () => {
  let assembly: TwinAssembly;
  let s3Root: string;
  beforeAll(() => {
    const platform = synthPlatform('dev');
    assembly = TwinAssembly.load(platform.app.outdir, ENV, { 'AWS::RDS::DBInstance': { 'Endpoint.Address': '127.0.0.1' } });
    s3Root = fs.mkdtempSync(path.join(os.tmpdir(), 'twin-s3-'));
    for (const bucket of assembly.resourcesOfType('AWS::S3::Bucket')) {
      fs.mkdirSync(path.join(s3Root, bucket.ref));
    }
  });
  afterAll(() => fs.rmSync(s3Root, { recursive: true, force: true }));

  const job = (id: string) => assembly.resourcesOfType('AWS::Glue::Job').find((j) => j.logicalId.startsWith(id))!;
  const args = (id: string): Record<string, string> => job(id).properties.DefaultArguments as Record<string, string>;
  const rawBucket = (): string => assembly.resourcesOfType('AWS::S3::Bucket').find((b) => b.logicalId.startsWith('RawZone'))!.ref;

  test('of the jobs, only gold uses Iceberg (the twin creates the Iceberg tables before it runs)', () => {
    const jobs = assembly.resourcesOfType('AWS::Glue::Job');
    expect(jobs.filter(usesIceberg).map((j) => j.logicalId)).toEqual([expect.stringMatching(/^CuratedToGold/)]);
    expect(jobs).toHaveLength(4);
  });

  test('imports, joins and references resolve to the names the twin gives the resources', () => {
    expect(args('SourceExtract')['--raw_path']).toBe(`s3://${rawBucket()}/source/`);
    expect(args('SourceExtract')['--extra-py-files']).toMatch(/^s3:\/\/cdk-hnb659fds-assets-123456789012-us-east-1\/[0-9a-f]{64}\.zip$/);
    expect(job('SourceExtract').properties.Role).toMatch(/^arn:aws:iam::123456789012:role\/undercurrent-dev-ingestion-sourceextractrole/);
    const connection = assembly.resourcesOfType('AWS::Glue::Connection')[0];
    expect((connection.properties.ConnectionInput as { ConnectionProperties: Record<string, string> }).ConnectionProperties).toMatchObject({
      JDBC_CONNECTION_URL: 'jdbc:mysql://127.0.0.1:3407/classicmodels',
      JDBC_ENFORCE_SSL: 'true',
    });
  });

  test('every job script and library of the templates is an asset of the assembly', () => {
    for (const glueJob of assembly.resourcesOfType('AWS::Glue::Job')) {
      const script = assembly.asset((glueJob.properties.Command as { ScriptLocation: string }).ScriptLocation);
      expect(fs.statSync(script.path).isFile()).toBe(true);
      const library = assembly.asset((glueJob.properties.DefaultArguments as Record<string, string>)['--extra-py-files']);
      expect(fs.existsSync(path.join(library.path, 'undercurrent_glue', '__init__.py'))).toBe(true);
    }
  });

  test('every Glue job of the workflow runs with MaxRetries 0, so the state machine owns the retries', () => {
    for (const glueJob of assembly.resourcesOfType('AWS::Glue::Job')) {
      expect(() => jobDefinition(assembly, glueJob.ref)).not.toThrow();
    }
  });

  test('the twin refuses to run a job that Glue itself would retry behind the workflow\'s back', () => {
    const extract = job('SourceExtract');
    const retrying = { ...extract, properties: { ...extract.properties, MaxRetries: 2 } };
    const withRetries = { resourceByRef: () => retrying } as unknown as TwinAssembly;
    expect(() => jobDefinition(withRetries, extract.ref)).toThrow(
      new StatesError(
        'Twin.JobRetriesOutsideWorkflow',
        `job ${extract.ref} has MaxRetries 2: a Glue retry is a new job run that a startJobRun.sync task does not follow ` +
          '(the workflow fails and alerts while the retry runs on, out of order); retry in the state machine and keep MaxRetries 0',
      ),
    );
  });

  test('the catalog tables of the templates are read with their format, location and partition keys', () => {
    const tables = catalogTables(assembly);
    const raw = tables.find((t) => t.name === 'source_customers')!;
    expect(raw).toMatchObject({ format: 'parquet', location: `s3://${rawBucket()}/source/customers/`, partitionKeys: [{ name: 'ingest_date', type: 'date' }] });
    expect(tables.find((t) => t.name === 'fact_order_line')!.format).toBe('iceberg');
    expect(tables.find((t) => t.database.endsWith('_quarantine') && t.name === 'customers')!.format).toBe('json');
  });

  test('the views of the templates are the serving views, decoded from their Presto text as Athena decodes it', () => {
    const views = catalogViews(assembly);
    expect(views.map((v) => [v.name, v.database, v.schema, v.sql])).toEqual(
      servingViews().map((v) => [v.name, 'undercurrent_dev_gold', 'undercurrent_dev_gold', v.sql]),
    );
    expect(views.find((v) => v.name === 'daily_funnel')!.columns[0]).toEqual({ name: 'session_date', type: 'date' });
    expect(catalogTables(assembly).filter((t) => views.some((v) => v.name === t.name))).toEqual([]);
  });

  test('Firehose delivers a click event under the prefix the clickstream job reads and the raw table locates', () => {
    const arrival = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    const event = { event_id: 'e1', event_type: 'page_view', event_time: '2026-01-01T23:59:00.000-05:00' };
    const report = deliver(deliveryStream(assembly), [Buffer.from(JSON.stringify(event))], arrival, s3Root);
    expect(report).toMatchObject({ delivered: 1, failed: 0 });
    const url = report.objects[0].url;
    expect(url.startsWith(`s3://${rawBucket()}/clickstream/event_date=2026-01-01/ingest_date=2026-01-02/`)).toBe(true);
    expect(url.startsWith(args('ClickstreamToCurated')['--raw_path'])).toBe(true);
    const table = catalogTables(assembly).find((t) => t.database.endsWith('_raw') && t.name === 'clickstream_events')!;
    expect(url.startsWith(table.location)).toBe(true);
    const file = path.join(s3Root, url.slice('s3://'.length));
    expect(zlib.gunzipSync(fs.readFileSync(file)).toString('utf8')).toBe(`${JSON.stringify(event)}\n`);
  });

  test('a record that is not JSON goes to the error output prefix; a time that is not a date to event_date=unknown', () => {
    const arrival = new Date(Date.UTC(2026, 0, 2));
    const report = deliver(deliveryStream(assembly), [Buffer.from('not json'), Buffer.from('{"event_time": 7}')], arrival, s3Root);
    expect(report).toMatchObject({ delivered: 1, failed: 1 });
    const urls = report.objects.map((o) => o.url.replace(/[^/]+$/, ''));
    expect(urls).toEqual([
      `s3://${rawBucket()}/clickstream-errors/processing-failed/ingest_date=2026-01-02/`,
      `s3://${rawBucket()}/clickstream/event_date=unknown/ingest_date=2026-01-02/`,
    ]);
  });
});

describe('the twin\'s resolver refuses what it cannot read', () => {
  function assemblyWith(template: object): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twin-asm-'));
    fs.writeFileSync(path.join(dir, 'S.template.json'), JSON.stringify(template));
    fs.writeFileSync(
      path.join(dir, 'manifest.json'),
      JSON.stringify({ artifacts: { S: { type: 'aws:cloudformation:stack', properties: { templateFile: 'S.template.json', stackName: 'App-S' } } } }),
    );
    return dir;
  }

  test('an intrinsic function outside its subset fails naming the function and where', () => {
    const dir = assemblyWith({ Resources: { B: { Type: 'AWS::S3::Bucket', Properties: { Tags: [{ 'Fn::Cidr': ['10.0.0.0/16', 1, 8] }] } } } });
    expect(() => TwinAssembly.load(dir, ENV)).toThrow(new AssemblyError('Stack S, B.Properties.Tags[0]: the twin cannot resolve Fn::Cidr.'));
  });

  test('an import no stack exports fails naming the export', () => {
    const dir = assemblyWith({ Resources: { B: { Type: 'AWS::S3::Bucket', Properties: { BucketName: { 'Fn::ImportValue': 'Nope' } } } } });
    expect(() => TwinAssembly.load(dir, ENV)).toThrow('Fn::ImportValue of Nope: no stack of the assembly exports it.');
  });

  test('Fn::Sub, Fn::Select, Fn::Split and conditions resolve as CloudFormation resolves them', () => {
    const dir = assemblyWith({
      Conditions: { IsDev: { 'Fn::Equals': ['dev', 'dev'] } },
      Resources: {
        B: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'my-bucket' } },
        Q: {
          Type: 'AWS::SQS::Queue',
          Properties: {
            A: { 'Fn::Sub': 'arn:${AWS::Partition}:s3:::${B}/x-${B.Arn}' },
            S: { 'Fn::Select': [1, { 'Fn::Split': [',', 'a,b,c'] }] },
            I: { 'Fn::If': ['IsDev', 'yes', 'no'] },
            N: { Ref: 'AWS::NoValue' },
          },
        },
      },
    });
    expect(TwinAssembly.load(dir, ENV).resource('S', 'Q').properties).toEqual({
      A: 'arn:aws:s3:::my-bucket/x-arn:aws:s3:::my-bucket',
      S: 'b',
      I: 'yes',
    });
  });

  test('Firehose prefix expressions: a missing partition key fails the record; timestamps are UTC', () => {
    const at = new Date(Date.UTC(2026, 4, 6, 7, 8, 9));
    expect(evaluatePrefix('d=!{partitionKeyFromQuery:d}/t=!{timestamp:yyyy-MM-dd}/', { keys: { d: 'x' }, arrival: at })).toBe('d=x/t=2026-05-06/');
    expect(evaluatePrefix('d=!{partitionKeyFromQuery:d}/', { keys: {}, arrival: at })).toBeUndefined();
    expect(formatTimestamp('yyyy/MM/dd/HH', at)).toBe('2026/05/06/07');
    expect(() => formatTimestamp('YYYY-ww', at)).toThrow('Firehose timestamp pattern YYYY-ww uses letters the twin does not format');
  });
});

describe('the twin\'s check of the views run on the lake', () => {
  const view = { database: 'g', name: 'v', schema: 'g', sql: 'SELECT 1 AS n', columns: [{ name: 'n', type: 'integer' }] };

  test('passes a view that ran with its stored columns and has rows', () => {
    expect(checkViews([view], { 'g.v': { rows: 3, columns: [{ name: 'n', type: 'integer' }] } })).toEqual([]);
  });

  test('fails a view that was not run, is empty, or whose columns differ from those stored (stale)', () => {
    expect(checkViews([view], {})).toEqual(['view g.v was not run']);
    expect(checkViews([view], { 'g.v': { rows: 0, columns: [{ name: 'n', type: 'integer' }] } })).toEqual(['view g.v is empty']);
    expect(checkViews([view], { 'g.v': { rows: 3, columns: [{ name: 'n', type: 'bigint' }] } })).toEqual([
      'view g.v gives the columns [{"name":"n","type":"bigint"}]; its definition stores [{"name":"n","type":"integer"}] (Athena would call it stale)',
    ]);
  });
});
