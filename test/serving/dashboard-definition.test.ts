import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import {
  DashboardDefinition,
  DataSetFields,
  definitionProblems,
  expressionColumns,
  retailDashboardDefinition,
  validateDefinition,
} from '../../lib/serving/dashboard-definition';
import { QuickSightDashboards, quickSightColumn } from '../../lib/serving/quicksight';
import { servingViews } from '../../lib/serving/semantic-layer';
import { testApp } from '../support/platform';
import { EXAMPLE_ACCOUNT, EXAMPLE_REGION } from '../support/example-account';

/** The five views the dashboard reads, spelled out. */
const VIEWS = ['revenue_by_month_and_product_line', 'product_performance', 'customer_360', 'sales_rep_performance', 'daily_funnel'];

/** Each view's declared column names, read here from `lib/serving/sql/views/<name>.json` (not through the code under test). */
const DECLARED: Record<string, string[]> = Object.fromEntries(
  VIEWS.map((view) => {
    const file = path.join(__dirname, '..', '..', 'lib', 'serving', 'sql', 'views', `${view}.json`);
    const declaration = JSON.parse(readFileSync(file, 'utf8')) as { columns: { name: string }[] };
    return [view, declaration.columns.map((c) => c.name)];
  }),
);

const ARNS = Object.fromEntries(VIEWS.map((view) => [view, `arn:aws:quicksight:${EXAMPLE_REGION}:${EXAMPLE_ACCOUNT}:dataset/${view}`])) as never;

/** The real definition with one change. */
function changed(edit: (definition: Record<string, unknown>) => void): DashboardDefinition {
  const definition = JSON.parse(JSON.stringify(retailDashboardDefinition(ARNS)));
  edit(definition);
  return definition;
}

describe('the dashboard definition', () => {
  const definition = retailDashboardDefinition(ARNS);

  test('names only columns the views declare (and its calculated fields), in every visual and calculated field', () => {
    expect(definitionProblems(definition, DECLARED)).toEqual([]);
  });

  test('has the five sheets: revenue trend, product lines, top customers, sales reps, web funnel', () => {
    expect((definition.sheets as { name: string }[]).map((s) => s.name)).toEqual([
      'Revenue trend',
      'Product lines',
      'Top customers',
      'Sales reps',
      'Web funnel',
    ]);
  });

  test('declares each of the five views as a dataset, named after the view, with the ARN it is given', () => {
    expect(definition.dataSetIdentifierDeclarations).toEqual(VIEWS.map((view) => ({ identifier: view, dataSetArn: `arn:aws:quicksight:${EXAMPLE_REGION}:${EXAMPLE_ACCOUNT}:dataset/${view}` })));
  });

  test('every view is read by a visual, and each sheet reads the views it is about', () => {
    const datasetsOf = (sheet: unknown): string[] => [...new Set(JSON.stringify(sheet).match(/"dataSetIdentifier":"\w+"/g)!.map((m) => m.split('"')[3]))].sort();
    const sheets = definition.sheets as unknown[];
    expect(sheets.map(datasetsOf)).toEqual([
      ['revenue_by_month_and_product_line'],
      ['product_performance', 'revenue_by_month_and_product_line'],
      ['customer_360'],
      ['sales_rep_performance'],
      ['daily_funnel'],
    ]);
  });

  test('the revenue trend is a line chart by month; top customers a table sorted by lifetime revenue; the funnel a KPI of purchasing over all sessions', () => {
    const [trend, , customers, , funnel] = definition.sheets as unknown as { visuals: Record<string, Record<string, unknown>>[] }[];
    const line = trend.visuals[1].lineChartVisual as { chartConfiguration: { fieldWells: { lineChartAggregatedFieldWells: { category: unknown[] } } } };
    expect(line.chartConfiguration.fieldWells.lineChartAggregatedFieldWells.category).toEqual([
      { dateDimensionField: { fieldId: 'revenue-by-month.order_month', column: { dataSetIdentifier: 'revenue_by_month_and_product_line', columnName: 'order_month' }, dateGranularity: 'MONTH' } },
    ]);
    expect(JSON.stringify(customers.visuals[0].tableVisual)).toContain('"rowSort":[{"fieldSort":{"fieldId":"top-customers-table.lifetime_revenue","direction":"DESC"}}]');
    expect(definition.calculatedFields).toContainEqual({ dataSetIdentifier: 'daily_funnel', name: 'period_conversion_rate', expression: 'sum({purchasing_sessions}) / sum({sessions})' });
    expect(Object.keys(funnel.visuals[0])).toEqual(['kpiVisual']);
  });

  test('lays out every visual of each sheet, and nothing else', () => {
    for (const sheet of definition.sheets as unknown as { visuals: Record<string, { visualId: string }>[]; layouts: unknown[] }[]) {
      const ids = sheet.visuals.map((v) => Object.values(v)[0].visualId);
      expect(JSON.stringify(sheet.layouts).match(/"elementId":"[\w-]+"/g)!.map((m) => m.split('"')[3])).toEqual(ids);
    }
  });
});

describe('a definition that names what its datasets do not have is refused, with each problem named', () => {
  test('a visual naming a column its dataset does not have', () => {
    const wrong = changed((d) => {
      const text = JSON.stringify(d).replace('"columnName":"lifetime_revenue"', '"columnName":"lifetime_revenu"');
      Object.assign(d, JSON.parse(text));
    });
    expect(() => validateDefinition('The test definition', wrong, DECLARED)).toThrow(
      'The test definition has 1 problem:\n- sheet "top-customers", visual "top-customers-table" names column "lifetime_revenu" of dataset "customer_360", which has no such field ' +
        '(its fields are customer_number, customer_name, city, country, credit_limit, lifetime_revenue, orders, last_order_date, sales_rep, sales_office).',
    );
  });

  test('a column of another dataset', () => {
    const fields = new DataSetFields('daily_funnel');
    const wrong = changed((d) => {
      const sheets = d.sheets as { visuals: unknown[] }[];
      sheets[4].visuals.push({ kpiVisual: { visualId: 'wrong', chartConfiguration: { fieldWells: { values: [fields.measure('wrong.revenue', 'revenue', 'SUM')] } } } });
    });
    expect(definitionProblems(wrong, DECLARED)).toEqual([
      'sheet "web-funnel", visual "wrong" names column "revenue" of dataset "daily_funnel", which has no such field (its fields are session_date, sessions, viewing_sessions, cart_sessions, purchasing_sessions, conversion_rate, period_conversion_rate).',
    ]);
  });

  test('a calculated field naming a missing column, and a dataset the definition does not declare', () => {
    const wrong = changed((d) => {
      (d.calculatedFields as unknown[]).push(new DataSetFields('daily_funnel').calculated('bounce', '{bounces} / {sessions}'));
      (d.calculatedFields as unknown[]).push(new DataSetFields('orders').calculated('n', 'count({order_number})'));
    });
    expect(definitionProblems(wrong, DECLARED)).toEqual([
      expect.stringMatching(/^calculated field "bounce" names column "bounces" of dataset "daily_funnel", which has no such field/),
      'calculated field "n" names dataset "orders", which the definition does not declare (it declares revenue_by_month_and_product_line, product_performance, customer_360, sales_rep_performance, daily_funnel).',
    ]);
  });

  test('a declared dataset that is not one of the datasets', () => {
    const wrong = changed((d) => (d.dataSetIdentifierDeclarations as unknown[]).push({ identifier: 'orders', dataSetArn: 'arn' }));
    expect(definitionProblems(wrong, DECLARED)).toEqual([
      'the definition declares dataset identifier "orders", which is not a dataset (the datasets are revenue_by_month_and_product_line, product_performance, customer_360, sales_rep_performance, daily_funnel).',
    ]);
  });

  test('a sort on a field the visual does not show, a visual id used twice, a layout of a visual that is not there', () => {
    const wrong = changed((d) => {
      const text = JSON.stringify(d)
        .replace('"fieldId":"revenue-by-sales-rep.revenue","direction"', '"fieldId":"revenue-by-sales-rep.orders","direction"')
        .replace('"visualId":"sales-rep-details"', '"visualId":"revenue-by-sales-rep"');
      Object.assign(d, JSON.parse(text));
    });
    expect(definitionProblems(wrong, DECLARED)).toEqual([
      'sheet "sales-reps", visual "revenue-by-sales-rep" sorts on field id "revenue-by-sales-rep.orders", which is not one of its fields (revenue-by-sales-rep.sales_rep, revenue-by-sales-rep.revenue).',
      'visual id "revenue-by-sales-rep" is used twice.',
      'sheet "sales-reps" lays out visual "sales-rep-details", which is not one of its visuals.',
    ]);
  });

  test('several problems are all listed', () => {
    const wrong = changed((d) => Object.assign(d, JSON.parse(JSON.stringify(d).replace(/"columnName":"revenue"/g, '"columnName":"sales"'))));
    expect(() => validateDefinition('The test definition', wrong, DECLARED)).toThrow(/^The test definition has 6 problems:\n- sheet "revenue-trend", visual "revenue-total" names column "sales"/);
  });
});

test('a calculated field\'s columns are its {column} references, not its ${parameter} ones', () => {
  expect(expressionColumns("ifelse({month} < ${threshold}, {year}, 0) + sum({units})")).toEqual(['month', 'year', 'units']);
});

describe('the QuickSight type of a declared column', () => {
  test.each([
    ['string', { type: 'STRING' }],
    ['int', { type: 'INTEGER' }],
    ['bigint', { type: 'INTEGER' }],
    ['decimal(18,2)', { type: 'DECIMAL', subType: 'FIXED' }],
    ['decimal(10, 4)', { type: 'DECIMAL', subType: 'FIXED' }],
    ['decimal(20,6)', { type: 'DECIMAL', subType: 'FLOAT' }],
    ['double', { type: 'DECIMAL', subType: 'FLOAT' }],
    ['date', { type: 'DATETIME' }],
    ['timestamp', { type: 'DATETIME' }],
    ['boolean', { type: 'BIT' }],
  ])('%s is %j', (type, expected) => {
    expect(quickSightColumn({ name: 'c', type, nullable: true })).toEqual({ name: 'c', ...expected });
  });

  test('a type QuickSight has no column type for is refused, naming the column', () => {
    expect(() => quickSightColumn({ name: 'tags', type: 'array<string>', nullable: true })).toThrow(
      'Column tags has type "array<string>", which has no QuickSight column type; declare it as string, int, bigint, double, decimal(p,s), boolean, date or timestamp.',
    );
  });
});

describe('QuickSightDashboards', () => {
  /** The construct in a small stack, with the given views. */
  function build(views = servingViews()): QuickSightDashboards {
    const stack = new Stack(testApp(), 'Serving');
    const bucket = new s3.Bucket(stack, 'Results', { encryptionKey: new kms.Key(stack, 'Key') });
    return new QuickSightDashboards(stack, 'QuickSight', {
      names: { appName: 'Undercurrent', envName: 'dev' },
      settings: { authorGroup: 'authors', viewerGroup: 'viewers', fallbackRefreshTimeUtc: '06:00' },
      workgroup: new athena.CfnWorkGroup(stack, 'Workgroup', { name: 'wg' }),
      queryResultsBucket: bucket,
      resultsPrefix: 'athena/',
      goldDatabase: new glue.Database(stack, 'Gold', { databaseName: 'gold' }),
      views,
      alertsTopic: new sns.Topic(stack, 'Alerts'),
    });
  }

  test('checks the definition against the views\' declarations when it is built: a view without a column a visual names fails the synth', () => {
    const views = servingViews().map((view) =>
      view.name === 'customer_360'
        ? { ...view, declaration: { ...view.declaration, columns: view.declaration.columns.filter((c) => c.name !== 'lifetime_revenue') } }
        : view,
    );
    const fields = 'customer_number, customer_name, city, country, credit_limit, orders, last_order_date, sales_rep, sales_office';
    expect(() => build(views)).toThrow(
      'The dashboard definition (lib/serving/dashboard-definition.ts) has 2 problems:\n' +
        `- sheet "top-customers", visual "top-customers-table" names column "lifetime_revenue" of dataset "customer_360", which has no such field (its fields are ${fields}).\n` +
        `- sheet "top-customers", visual "revenue-by-country" names column "lifetime_revenue" of dataset "customer_360", which has no such field (its fields are ${fields}).`,
    );
  });

  test('refuses views that lack one the dashboard reads, naming it', () => {
    expect(() => build(servingViews().filter((v) => v.name !== 'daily_funnel'))).toThrow(
      'QuickSightDashboards Serving/QuickSight: the dashboard reads view daily_funnel, which lib/serving/sql/views does not have; add the view or change lib/serving/dashboard-definition.ts.',
    );
  });

  test('formats the groups\' ARNs in the namespace, in the stack\'s region unless the identity region is given', () => {
    const dashboards = build();
    const stack = Stack.of(dashboards);
    expect(stack.resolve(dashboards.authorGroupArn)).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':quicksight:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':group/default/authors']],
    });
  });
});
