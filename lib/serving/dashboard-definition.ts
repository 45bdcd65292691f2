import { CfnDashboard } from 'aws-cdk-lib/aws-quicksight';

/**
 * The retail dashboard as typed TypeScript: one definition (`CfnDashboard`'s
 * `DashboardVersionDefinitionProperty`, which `CfnAnalysis` takes as its definition too) with five
 * sheets on the five views of `sql/views`: revenue trend, product lines, top customers, sales
 * reps and web funnel. Nothing here is exported JSON: every visual is built from the helpers of
 * {@link DataSetFields}, whose column names {@link definitionProblems} checks against the
 * datasets' declared columns (the views' `<name>.json`) whenever the app is built.
 */

/** The definition of the dashboard, and of the analysis it is published from. */
export type DashboardDefinition = CfnDashboard.DashboardVersionDefinitionProperty;

/** The views the dashboard reads, each one SPICE dataset; the dataset identifier is the view's name. */
export const DASHBOARD_VIEWS = [
  'revenue_by_month_and_product_line',
  'product_performance',
  'customer_360',
  'sales_rep_performance',
  'daily_funnel',
] as const;
export type DashboardView = (typeof DASHBOARD_VIEWS)[number];

/** How a measure is aggregated (QuickSight's `SimpleNumericalAggregation`). */
export type Aggregation = 'SUM' | 'AVERAGE' | 'MIN' | 'MAX' | 'COUNT' | 'DISTINCT_COUNT';

/** QuickSight's width of a grid layout, in columns. */
const GRID_COLUMNS = 36;

/**
 * The fields of one dataset as visuals name them: every helper takes the column's name as the
 * view declares it (or a calculated field of that dataset) and a field id unique in the visual.
 */
export class DataSetFields {
  constructor(public readonly identifier: string) {}

  /** The column itself. */
  public column(name: string): CfnDashboard.ColumnIdentifierProperty {
    return { dataSetIdentifier: this.identifier, columnName: name };
  }

  /** A text (or whole-number) column to group by. */
  public category(fieldId: string, column: string): CfnDashboard.DimensionFieldProperty {
    return { categoricalDimensionField: { fieldId, column: this.column(column) } };
  }

  /** A date column to group by, at a granularity. */
  public date(fieldId: string, column: string, granularity: 'DAY' | 'WEEK' | 'MONTH' | 'YEAR'): CfnDashboard.DimensionFieldProperty {
    return { dateDimensionField: { fieldId, column: this.column(column), dateGranularity: granularity } };
  }

  /** A number column, aggregated; without `aggregation`, a calculated field that aggregates itself. */
  public measure(fieldId: string, column: string, aggregation?: Aggregation): CfnDashboard.MeasureFieldProperty {
    return {
      numericalMeasureField: {
        fieldId,
        column: this.column(column),
        ...(aggregation ? { aggregationFunction: { simpleNumericalAggregation: aggregation } } : {}),
      },
    };
  }

  /** The columns of a table visual shown row by row (no grouping), in order, each as the field `<visualId>.<column>`. */
  public rows(visualId: string, columns: readonly string[]): CfnDashboard.UnaggregatedFieldProperty[] {
    return columns.map((column) => ({ fieldId: `${visualId}.${column}`, column: this.column(column) }));
  }

  /** A calculated field of this dataset: `expression` names columns as `{column}`. */
  public calculated(name: string, expression: string): CfnDashboard.CalculatedFieldProperty {
    return { dataSetIdentifier: this.identifier, name, expression };
  }
}

function title(text: string): CfnDashboard.VisualTitleLabelOptionsProperty {
  return { visibility: 'VISIBLE', formatText: { plainText: text } };
}

function descending(fieldId: string): CfnDashboard.FieldSortOptionsProperty {
  return { fieldSort: { fieldId, direction: 'DESC' } };
}

/** A visual and its id, for the sheet's layout. */
function visualId(visual: CfnDashboard.VisualProperty): string {
  const inner = Object.values(visual)[0] as { visualId: string };
  return inner.visualId;
}

/** A sheet whose visuals stack vertically, each the sheet's full width and `rowSpan` rows high. */
function sheet(sheetId: string, name: string, visuals: CfnDashboard.VisualProperty[], rowSpan = 12): CfnDashboard.SheetDefinitionProperty {
  return {
    sheetId,
    name,
    title: name,
    contentType: 'INTERACTIVE',
    visuals,
    layouts: [
      {
        configuration: {
          gridLayout: {
            elements: visuals.map((visual, index) => ({
              elementId: visualId(visual),
              elementType: 'VISUAL',
              columnIndex: 0,
              columnSpan: GRID_COLUMNS,
              rowIndex: index * rowSpan,
              rowSpan,
            })),
          },
        },
      },
    ],
  };
}

function lineChart(
  id: string,
  text: string,
  category: CfnDashboard.DimensionFieldProperty,
  values: CfnDashboard.MeasureFieldProperty[],
): CfnDashboard.VisualProperty {
  return {
    lineChartVisual: {
      visualId: id,
      title: title(text),
      chartConfiguration: { type: 'LINE', fieldWells: { lineChartAggregatedFieldWells: { category: [category], values } } },
    },
  };
}

function barChart(
  id: string,
  text: string,
  category: CfnDashboard.DimensionFieldProperty,
  value: CfnDashboard.MeasureFieldProperty,
  sortFieldId: string,
  limit?: number,
): CfnDashboard.VisualProperty {
  return {
    barChartVisual: {
      visualId: id,
      title: title(text),
      chartConfiguration: {
        orientation: 'HORIZONTAL',
        fieldWells: { barChartAggregatedFieldWells: { category: [category], values: [value] } },
        sortConfiguration: {
          categorySort: [descending(sortFieldId)],
          ...(limit ? { categoryItemsLimit: { itemsLimit: limit, otherCategories: 'INCLUDE' } } : {}),
        },
      },
    },
  };
}

function rowTable(id: string, text: string, rows: CfnDashboard.UnaggregatedFieldProperty[], sortFieldId: string, pageSize = 25): CfnDashboard.VisualProperty {
  return {
    tableVisual: {
      visualId: id,
      title: title(text),
      chartConfiguration: {
        fieldWells: { tableUnaggregatedFieldWells: { values: rows } },
        sortConfiguration: { rowSort: [descending(sortFieldId)], paginationConfiguration: { pageNumber: 1, pageSize } },
      },
    },
  };
}

function kpi(id: string, text: string, value: CfnDashboard.MeasureFieldProperty): CfnDashboard.VisualProperty {
  return { kpiVisual: { visualId: id, title: title(text), chartConfiguration: { fieldWells: { values: [value] } } } };
}

/**
 * The dashboard's definition on the five views, given each view's dataset ARN (declared as the
 * dataset identifier named after the view).
 */
export function retailDashboardDefinition(dataSetArns: Readonly<Record<DashboardView, string>>): DashboardDefinition {
  const revenue = new DataSetFields('revenue_by_month_and_product_line');
  const products = new DataSetFields('product_performance');
  const customers = new DataSetFields('customer_360');
  const reps = new DataSetFields('sales_rep_performance');
  const funnel = new DataSetFields('daily_funnel');

  return {
    dataSetIdentifierDeclarations: DASHBOARD_VIEWS.map((view) => ({ identifier: view, dataSetArn: dataSetArns[view] })),
    calculatedFields: [
      // The view has the order's year and month (1 to 12); the line chart wants a date.
      revenue.calculated(
        'order_month',
        "parseDate(concat(toString({year}), '-', ifelse({month} < 10, concat('0', toString({month})), toString({month})), '-01'), 'yyyy-MM-dd')",
      ),
      // The conversion of a period: its purchasing sessions over its sessions (not the mean of daily rates).
      funnel.calculated('period_conversion_rate', 'sum({purchasing_sessions}) / sum({sessions})'),
    ],
    sheets: [
      sheet('revenue-trend', 'Revenue trend', [
        kpi('revenue-total', 'Revenue (lines not cancelled)', revenue.measure('revenue-total.revenue', 'revenue', 'SUM')),
        lineChart('revenue-by-month', 'Revenue by month', revenue.date('revenue-by-month.order_month', 'order_month', 'MONTH'), [
          revenue.measure('revenue-by-month.revenue', 'revenue', 'SUM'),
          revenue.measure('revenue-by-month.orders', 'orders', 'SUM'),
        ]),
      ]),
      sheet('product-lines', 'Product lines', [
        barChart(
          'revenue-by-product-line',
          'Revenue by product line',
          revenue.category('revenue-by-product-line.product_line', 'product_line'),
          revenue.measure('revenue-by-product-line.revenue', 'revenue', 'SUM'),
          'revenue-by-product-line.revenue',
        ),
        rowTable(
          'product-performance',
          'Products: sales, margin and web interest',
          products.rows('product-performance', ['product_name', 'product_line', 'units', 'revenue', 'gross_margin', 'views', 'add_to_carts', 'web_purchases']),
          'product-performance.revenue',
        ),
      ]),
      sheet('top-customers', 'Top customers', [
        rowTable(
          'top-customers-table',
          'Customers by lifetime revenue',
          customers.rows('top-customers-table', ['customer_name', 'country', 'sales_rep', 'lifetime_revenue', 'orders', 'last_order_date']),
          'top-customers-table.lifetime_revenue',
        ),
        barChart(
          'revenue-by-country',
          'Lifetime revenue by country (top 10)',
          customers.category('revenue-by-country.country', 'country'),
          customers.measure('revenue-by-country.lifetime_revenue', 'lifetime_revenue', 'SUM'),
          'revenue-by-country.lifetime_revenue',
          10,
        ),
      ]),
      sheet('sales-reps', 'Sales reps', [
        barChart(
          'revenue-by-sales-rep',
          'Revenue by sales rep',
          reps.category('revenue-by-sales-rep.sales_rep', 'sales_rep'),
          reps.measure('revenue-by-sales-rep.revenue', 'revenue', 'SUM'),
          'revenue-by-sales-rep.revenue',
        ),
        rowTable(
          'sales-rep-details',
          'Sales reps: office, orders and customers',
          reps.rows('sales-rep-details', ['sales_rep', 'job_title', 'office_city', 'office_country', 'revenue', 'orders', 'customers']),
          'sales-rep-details.revenue',
        ),
      ]),
      sheet('web-funnel', 'Web funnel', [
        kpi('funnel-conversion', 'Conversion (purchasing sessions over sessions)', funnel.measure('funnel-conversion.rate', 'period_conversion_rate')),
        lineChart('funnel-by-day', 'Sessions through the funnel by day', funnel.date('funnel-by-day.session_date', 'session_date', 'DAY'), [
          funnel.measure('funnel-by-day.sessions', 'sessions', 'SUM'),
          funnel.measure('funnel-by-day.viewing_sessions', 'viewing_sessions', 'SUM'),
          funnel.measure('funnel-by-day.cart_sessions', 'cart_sessions', 'SUM'),
          funnel.measure('funnel-by-day.purchasing_sessions', 'purchasing_sessions', 'SUM'),
        ]),
      ]),
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// The check: every field a definition names exists in its dataset
// ---------------------------------------------------------------------------------------------

type Json = unknown;

function isObject(value: Json): value is Record<string, Json> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Where in the definition a problem is: the sheet and visual, or the calculated field. */
interface Place {
  readonly sheet?: string;
  readonly visual?: string;
}

function describePlace(place: Place): string {
  if (place.visual !== undefined) {
    return `sheet "${place.sheet ?? '?'}", visual "${place.visual}"`;
  }
  return place.sheet !== undefined ? `sheet "${place.sheet}"` : 'the definition';
}

/** The `{column}` references of a calculated field's expression (not the `${parameter}` ones). */
export function expressionColumns(expression: string): string[] {
  return [...expression.matchAll(/(?<!\$)\{([^{}]+)\}/g)].map((match) => match[1]);
}

/**
 * Every problem of a definition with its datasets, one line each (an empty list when there is
 * none):
 *
 * - a dataset identifier the definition uses but does not declare, or declares but is not a
 *   dataset (`columns` lists the datasets and their fields);
 * - a column a visual, a sort or a calculated field names that its dataset does not have (its
 *   fields are its declared columns and the definition's calculated fields of that dataset);
 * - a sheet, visual or field id used twice, a sort on a field its visual does not have, a layout
 *   element that is not a visual of its sheet.
 *
 * @param columns each dataset identifier's fields: the view's declared columns, in order
 */
export function definitionProblems(definition: DashboardDefinition, columns: Readonly<Record<string, readonly string[]>>): string[] {
  const problems: string[] = [];
  const root = definition as unknown as Record<string, Json>;
  const declared = new Set<string>();
  for (const declaration of asArray(root.dataSetIdentifierDeclarations)) {
    const identifier = isObject(declaration) ? String(declaration.identifier) : '?';
    if (declared.has(identifier)) {
      problems.push(`the definition declares dataset identifier "${identifier}" twice.`);
    }
    declared.add(identifier);
    if (!(identifier in columns)) {
      problems.push(`the definition declares dataset identifier "${identifier}", which is not a dataset (the datasets are ${Object.keys(columns).join(', ')}).`);
    }
  }

  // Calculated fields: a field of their dataset, named after the dataset's columns.
  const fields = new Map<string, Set<string>>(Object.entries(columns).map(([id, names]) => [id, new Set(names)]));
  const calculated = asArray(root.calculatedFields).filter(isObject);
  for (const field of calculated) {
    fields.get(String(field.dataSetIdentifier))?.add(String(field.name));
  }
  const checkColumn = (identifier: Json, column: string, where: string): void => {
    if (typeof identifier !== 'string') {
      problems.push(`${where} names column "${column}" without a dataset identifier; name the dataset.`);
      return;
    }
    if (!declared.has(identifier)) {
      problems.push(`${where} names dataset "${identifier}", which the definition does not declare (it declares ${[...declared].join(', ')}).`);
      return;
    }
    const known = fields.get(identifier);
    if (known && !known.has(column)) {
      problems.push(`${where} names column "${column}" of dataset "${identifier}", which has no such field (its fields are ${[...known].join(', ')}).`);
    }
  };
  for (const field of calculated) {
    for (const column of expressionColumns(String(field.expression))) {
      checkColumn(field.dataSetIdentifier, column, `calculated field "${String(field.name)}"`);
    }
  }

  const sheetIds = new Set<string>();
  const visualIds = new Set<string>();
  for (const sheetDefinition of asArray(root.sheets).filter(isObject)) {
    const sheetId = String(sheetDefinition.sheetId);
    if (sheetIds.has(sheetId)) {
      problems.push(`sheet id "${sheetId}" is used twice.`);
    }
    sheetIds.add(sheetId);
    const sheetVisuals = new Set<string>();
    for (const visual of asArray(sheetDefinition.visuals).filter(isObject)) {
      const inner = Object.values(visual).find(isObject);
      const id = inner && typeof inner.visualId === 'string' ? inner.visualId : '?';
      if (visualIds.has(id)) {
        problems.push(`visual id "${id}" is used twice.`);
      }
      visualIds.add(id);
      sheetVisuals.add(id);
      const where = describePlace({ sheet: sheetId, visual: id });
      const fieldIds = new Set<string>();
      const sorts: string[] = [];
      walk(inner, (node) => {
        if (typeof node.columnName === 'string') {
          checkColumn(node.dataSetIdentifier, node.columnName, where);
        }
        if (typeof node.fieldId === 'string') {
          if (isObject(node.column)) {
            if (fieldIds.has(node.fieldId)) {
              problems.push(`${where} uses field id "${node.fieldId}" twice.`);
            }
            fieldIds.add(node.fieldId);
          } else if ('direction' in node) {
            sorts.push(node.fieldId);
          }
        }
      });
      for (const sorted of sorts.filter((s) => !fieldIds.has(s))) {
        problems.push(`${where} sorts on field id "${sorted}", which is not one of its fields (${[...fieldIds].join(', ')}).`);
      }
    }
    walk(sheetDefinition.layouts, (node) => {
      if (node.elementType === 'VISUAL' && typeof node.elementId === 'string' && !sheetVisuals.has(node.elementId)) {
        problems.push(`${describePlace({ sheet: sheetId })} lays out visual "${node.elementId}", which is not one of its visuals.`);
      }
    });
  }
  return problems;
}

/**
 * Fails when {@link definitionProblems} finds any, naming each: a visual that names a field its
 * dataset does not have never reaches CloudFormation.
 *
 * @throws Error `<what> has <n> problem(s):` and one line per problem
 */
export function validateDefinition(what: string, definition: DashboardDefinition, columns: Readonly<Record<string, readonly string[]>>): void {
  const problems = definitionProblems(definition, columns);
  if (problems.length > 0) {
    throw new Error(`${what} has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `- ${p}`).join('\n')}`);
  }
}

function asArray(value: Json): Json[] {
  return Array.isArray(value) ? value : [];
}

/** Calls `visit` on every object in a JSON value, depth first. */
function walk(value: Json, visit: (node: Record<string, Json>) => void): void {
  if (Array.isArray(value)) {
    value.forEach((item) => walk(item, visit));
  } else if (isObject(value)) {
    visit(value);
    Object.values(value).forEach((item) => walk(item, visit));
  }
}
