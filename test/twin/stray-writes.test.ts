/**
 * The twin's check that every object a job writes lies where a catalog table reads it
 * (lib/twin/twin.ts `strayWrites`). The whole twin run (twin.test.ts) finds none in dev and
 * finds the extract's double `source/` prefix.
 */
import type { AccessRecord } from '../../lib/twin/permissions';
import { strayWrites } from '../../lib/twin/twin';
import { EXAMPLE_ACCOUNT } from '../support/example-account';

const EXTRACT = `arn:aws:iam::${EXAMPLE_ACCOUNT}:role/extract-role`;
const CURATE = `arn:aws:iam::${EXAMPLE_ACCOUNT}:role/curate-role`;
const TABLES = [{ location: 's3://raw/source/customers/' }, { location: 's3://curated/customers' }];

const put = (principal: string, object: string): AccessRecord => ({
  principal,
  op: `create s3://${object}`,
  action: 's3:PutObject',
  resource: `arn:aws:s3:::${object}`,
});

describe('strayWrites', () => {
  test('objects under a table location, and folder markers of the directories above one, are read', () => {
    expect(
      strayWrites(TABLES, [
        put(EXTRACT, 'raw/source/customers/ingest_date=2026-12-06/part-0.parquet'),
        put(EXTRACT, 'raw/source/customers_$folder$'),
        put(EXTRACT, 'raw/source_$folder$'),
        put(CURATE, 'curated/customers/part-0.parquet'), // a location without its slash still ends at a folder
        put(CURATE, 'curated/customers/_temporary/0/_$folder$'),
      ]),
    ).toEqual([]);
  });

  test('any other object is reported once per role, with how many and the first of them', () => {
    const accesses: AccessRecord[] = [
      put(EXTRACT, 'raw/source/source/customers/part-1.parquet'),
      put(EXTRACT, 'raw/source/source/customers/part-0.parquet'),
      put(EXTRACT, 'raw/source/source/customers/part-0.parquet'), // written again: one object
      put(EXTRACT, 'raw/source/source_$folder$'), // a marker of a directory above no table
      put(CURATE, 'curated/customers_old/part-0.parquet'), // a sibling of a location is not under it
      { ...put(CURATE, 'curated/elsewhere/x'), action: 's3:GetObject' }, // reads are not writes
    ];
    expect(strayWrites(TABLES, accesses)).toEqual([
      "extract-role wrote 3 object(s) under no catalog table's location, where nothing reads them, such as s3://raw/source/source/customers/part-0.parquet",
      "curate-role wrote 1 object(s) under no catalog table's location, where nothing reads them, such as s3://curated/customers_old/part-0.parquet",
    ]);
  });
});
