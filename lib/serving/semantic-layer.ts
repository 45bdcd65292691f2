import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Fn, Stack } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import { Construct } from 'constructs';
import { glueType } from '../lake/catalog';
import { DatasetDeclaration, loadDeclaration } from '../lake/datasets';
import { pascal } from '../shared/naming';

/**
 * The semantic layer of the serving stage, as SQL files in the repository: Athena views over gold
 * (`sql/views/<name>.sql`, their columns declared in `<name>.json` beside them) and the
 * workgroup's saved queries (`sql/queries/<name>.sql`), in Athena's dialect (Trino) with
 * unqualified table names, which Athena resolves in the gold database. The same files run on the
 * local gold (`glue-scripts/local/serving.py`, parsed and transpiled by sqlglot) with asserted
 * answers, and `npm run pipeline:local` prints them.
 */

/** The directory of the serving SQL. */
export const SERVING_SQL_DIR = path.join(__dirname, 'sql');
/** Athena's name of the Glue Data Catalog, where the views resolve their tables. */
export const ATHENA_CATALOG = 'awsdatacatalog';

/** One SQL file of the serving stage. */
export interface ServingSql {
  /** The file stem: the view's table name, or the saved query's name. */
  readonly name: string;
  /** The file's leading `--` comment, as one line. */
  readonly description: string;
  /** The statement after the comment, without a trailing `;`. */
  readonly sql: string;
}

/** A view: its SQL and its declared columns. */
export interface ServingView extends ServingSql {
  readonly declaration: DatasetDeclaration;
}

/**
 * Reads a serving SQL file: a `--` comment describing it, then one statement (the split
 * `read_sql` in glue-scripts/local/serving.py makes).
 *
 * @throws Error naming the file when the comment or the statement is missing.
 */
export function readServingSql(file: string): ServingSql {
  const lines = readFileSync(file, 'utf8').split('\n');
  const header = lines.findIndex((line) => !line.startsWith('--'));
  const commentLines = header === -1 ? lines : lines.slice(0, header);
  const description = commentLines.map((line) => line.slice(2).trim()).join(' ').trim();
  const sql = (header === -1 ? '' : lines.slice(header).join('\n')).trim().replace(/;$/, '').trim();
  if (description === '' || sql === '') {
    throw new Error(`${file}: a serving SQL file is a '--' comment describing it, then one statement.`);
  }
  return { name: path.basename(file, '.sql'), description, sql };
}

function sqlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => path.join(dir, f));
}

/**
 * The views, by name, each with its declaration (`<name>.json`, a dataset declaration named as
 * the file with only a description and columns).
 *
 * @throws Error naming the file when a view has no declaration or a declaration no view.
 */
export function servingViews(dir: string = path.join(SERVING_SQL_DIR, 'views')): ServingView[] {
  const views = sqlFiles(dir).map(readServingSql);
  const names = new Set(views.map((v) => v.name));
  const orphans = readdirSync(dir).filter((f) => f.endsWith('.json') && !names.has(path.basename(f, '.json')));
  if (orphans.length > 0) {
    throw new Error(`${dir}: ${orphans.join(', ')} declare${orphans.length === 1 ? 's' : ''} no view (no .sql of that name).`);
  }
  return views.map((view) => {
    const file = path.join(dir, `${view.name}.json`);
    const declaration = loadDeclaration(file, 'dataset');
    const extra = Object.keys(declaration).filter((key) => !['name', 'description', 'columns'].includes(key));
    if (declaration.name !== view.name || extra.length > 0) {
      throw new Error(`${file}: a view's declaration has its file's name "${view.name}", a description and columns only (got name "${declaration.name}"${extra.length > 0 ? `, ${extra.join(', ')}` : ''}).`);
    }
    return { ...view, declaration };
  });
}

/** The saved queries, by name. */
export function savedQueries(dir: string = path.join(SERVING_SQL_DIR, 'queries')): ServingSql[] {
  return sqlFiles(dir).map(readServingSql);
}

const PRESTO_TYPES: Readonly<Record<string, string>> = {
  string: 'varchar',
  int: 'integer',
  bigint: 'bigint',
  double: 'double',
  boolean: 'boolean',
  date: 'date',
  timestamp: 'timestamp',
};

/** Athena's (Presto/Trino) name of a declared type: `string` is `varchar`, `int` is `integer`. */
export function prestoType(type: string, column = '<unnamed>'): string {
  const hive = glueType(type, column).inputString; // rejects what the declarations do not allow
  return PRESTO_TYPES[hive] ?? hive.replace(/\s+/g, '');
}

/**
 * The `ViewOriginalText` of an Athena view: `/* Presto View: <base64 of its JSON> *\/`, the JSON
 * holding the SQL, the catalog and database it resolves in, and the columns with their Presto
 * types (Athena reports a view whose query no longer gives those types as stale). The
 * database may be a token; CloudFormation encodes the JSON (`Fn::Base64`), so the template
 * shows the SQL in clear.
 */
export function prestoViewText(scope: Construct, view: ServingView, databaseName: string): string {
  const json = Stack.of(scope).toJsonString({
    originalSql: view.sql,
    catalog: ATHENA_CATALOG,
    schema: databaseName,
    columns: view.declaration.columns.map((c) => ({ name: c.name, type: prestoType(c.type, c.name) })),
  });
  return Fn.join('', ['/* Presto View: ', Fn.base64(json), ' */']);
}

/** Properties of {@link SemanticLayer}. */
export interface SemanticLayerProps {
  /** The gold database: the views are tables of it, the saved queries run in it. */
  readonly database: glue.IDatabase;
  /** The workgroup the saved queries belong to. */
  readonly workgroup: athena.CfnWorkGroup;
  /** The view files' directory. @default `sql/views` */
  readonly viewsDir?: string;
  /** The saved queries' directory. @default `sql/queries` */
  readonly queriesDir?: string;
}

/**
 * The views of {@link servingViews} as Athena views of the gold database (Glue tables of type
 * `VIRTUAL_VIEW` with invoker rights: a reader needs SELECT on the view and on the gold columns
 * it reads, see docs/decisions/0010-athena-views-with-invoker-rights.md), and the saved queries
 * of {@link savedQueries} as named queries of the workgroup.
 */
export class SemanticLayer extends Construct {
  /** The views' Glue tables, by view name. */
  public readonly views: Readonly<Record<string, glue.CfnTable>>;
  /** The named queries, by name. */
  public readonly queries: Readonly<Record<string, athena.CfnNamedQuery>>;

  constructor(scope: Construct, id: string, props: SemanticLayerProps) {
    super(scope, id);
    const { databaseName } = props.database;
    const views: Record<string, glue.CfnTable> = {};
    for (const view of servingViews(props.viewsDir)) {
      views[view.name] = new glue.CfnTable(this, `${pascal(view.name)}View`, {
        catalogId: Stack.of(this).account,
        databaseName,
        tableInput: {
          name: view.name,
          description: view.declaration.description,
          tableType: 'VIRTUAL_VIEW',
          parameters: { presto_view: 'true', comment: 'Presto View' },
          partitionKeys: [],
          storageDescriptor: {
            columns: view.declaration.columns.map((c) => ({ name: c.name, type: glueType(c.type, c.name).inputString, comment: c.comment })),
            serdeInfo: {},
          },
          viewOriginalText: prestoViewText(this, view, databaseName),
          viewExpandedText: '/* Presto View */',
        },
      });
    }
    this.views = views;
    const queries: Record<string, athena.CfnNamedQuery> = {};
    for (const query of savedQueries(props.queriesDir)) {
      queries[query.name] = new athena.CfnNamedQuery(this, `${pascal(query.name)}Query`, {
        name: query.name,
        description: query.description,
        database: databaseName,
        queryString: query.sql,
        workGroup: props.workgroup.ref,
      });
    }
    this.queries = queries;
  }
}
