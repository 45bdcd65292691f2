/** An in-memory stand-in for the MySQL connection: records every call and keeps just enough state. */
import type { Db } from '../../lib/source/migrations';

export interface RecordedQuery {
  readonly sql: string;
  readonly params?: unknown[];
}

export class FakeDb implements Db {
  readonly calls: RecordedQuery[] = [];
  /** Rows of schema_migrations. */
  readonly applied: { version: number; name: string; checksum: string }[] = [];
  /** Row counts per table (as COUNT(*) answers them). */
  readonly rowCounts: Record<string, number> = {};
  /** Calls whose SQL matches fail with an error. */
  failOn?: RegExp;
  ended = 0;
  /** For each `end()`, how many calls had been made by then: where the disconnect came in the recorded calls. */
  readonly endedAfterCalls: number[] = [];

  async query(sql: string, params?: unknown[]): Promise<unknown[]> {
    this.calls.push(params === undefined ? { sql } : { sql, params });
    if (this.failOn?.test(sql)) {
      throw new Error(`fake failure on: ${sql.slice(0, 60)}`);
    }
    if (sql.startsWith('SELECT version, name, checksum FROM schema_migrations')) {
      // mysql2 may hand back numbers or strings; the migrator must cope with both.
      return [...this.applied].sort((a, b) => a.version - b.version).map((row) => ({ ...row, version: String(row.version) }));
    }
    if (sql.startsWith('INSERT INTO schema_migrations')) {
      const [version, name, checksum] = params as [number, string, string];
      this.applied.push({ version, name, checksum });
      return [];
    }
    const count = /^SELECT COUNT\(\*\) AS row_count FROM `(\w+)`$/.exec(sql);
    if (count) {
      return [{ row_count: this.rowCounts[count[1]] ?? 0 }];
    }
    const insert = /^INSERT INTO `(\w+)` \(([^)]*)\) VALUES /.exec(sql);
    if (insert) {
      const columns = insert[2].split(',').length;
      this.rowCounts[insert[1]] = (this.rowCounts[insert[1]] ?? 0) + (params?.length ?? 0) / columns;
      return [];
    }
    return [];
  }

  async end(): Promise<void> {
    this.ended += 1;
    this.endedAfterCalls.push(this.calls.length);
  }

  /** The SQL of every call, in order. */
  get statements(): string[] {
    return this.calls.map((call) => call.sql);
  }
}
