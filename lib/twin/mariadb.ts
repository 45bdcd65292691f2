/**
 * The local twin's source database server: a throwaway MariaDB (Debian's mariadb-server) that
 * stands in for the RDS MySQL 8.4 instance, started and stopped by `scripts/mariadb.sh`
 * (a fresh datadir under a directory of the caller's, TLS required, row-based binlog, loopback only).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

/** The script that starts and stops the server. */
export const MARIADB_SCRIPT = resolve(__dirname, '../../scripts/mariadb.sh');

/** How long `start` may take (datadir, certificates, server start) before it is abandoned. */
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 60_000;

/** A running twin server; `stop()` shuts it down (safe to call more than once). */
export interface MariaDbServer {
  /** Always 127.0.0.1: the server listens on the loopback address only. */
  readonly host: string;
  readonly port: number;
  /** The directory given to `startMariaDb`: datadir, TLS files, socket, pid file and logs. */
  readonly dir: string;
  readonly dataDir: string;
  /** Unix socket (socket authentication of the OS user only; clients use TCP with TLS). */
  readonly socket: string;
  readonly pidFile: string;
  /** The throwaway CA (PEM file) that signed the server certificate for 127.0.0.1 and localhost. */
  readonly caFile: string;
  /** The admin account: every privilege with the grant option, like RDS's master user. */
  readonly adminUser: string;
  readonly adminPassword: string;
  /** The server's error log (startup, shutdown, warnings). */
  readonly errorLog: string;
  /** The CA certificate's PEM text (read from `caFile`). */
  readCa(): string;
  stop(): Promise<void>;
}

/** The JSON line `scripts/mariadb.sh start` prints. */
interface StartOutput {
  host: string;
  port: number;
  socket: string;
  caFile: string;
  adminUser: string;
  adminPassword: string;
  pidFile: string;
  dataDir: string;
}

function runScript(args: readonly string[], timeout: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile('bash', [MARIADB_SCRIPT, ...args], { timeout, maxBuffer: 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        const detail = String(stderr).trim() || error.message;
        reject(new Error(`scripts/mariadb.sh ${args[0]} failed: ${detail}`));
        return;
      }
      resolvePromise(String(stdout));
    });
  });
}

/** A port that was free on 127.0.0.1 a moment ago (the kernel's choice). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => (port > 0 ? resolvePromise(port) : reject(new Error('Could not pick a free loopback port.'))));
    });
  });
}

function parseStartOutput(stdout: string): StartOutput {
  const line = stdout.trim().split('\n').pop() ?? '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error(`scripts/mariadb.sh start printed no JSON line (got ${JSON.stringify(line.slice(0, 200))}).`);
  }
  const record = parsed as Partial<StartOutput>;
  for (const key of ['host', 'socket', 'caFile', 'adminUser', 'adminPassword', 'pidFile', 'dataDir'] as const) {
    if (typeof record[key] !== 'string' || record[key] === '') {
      throw new Error(`scripts/mariadb.sh start printed a JSON line without "${key}".`);
    }
  }
  if (typeof record.port !== 'number') {
    throw new Error('scripts/mariadb.sh start printed a JSON line without "port".');
  }
  return record as StartOutput;
}

/**
 * Starts a fresh MariaDB server with its datadir under `dir` (which must not hold one yet) on
 * 127.0.0.1:`port` (a free loopback port when not given). Fails with the install command when
 * mariadb-server is missing, and with the tail of the error log when the server does not start.
 */
export async function startMariaDb(dir: string, port?: number): Promise<MariaDbServer> {
  const absolute = resolve(dir);
  const chosen = port ?? (await freeLoopbackPort());
  const out = parseStartOutput(await runScript(['start', absolute, String(chosen)], START_TIMEOUT_MS));
  return {
    host: out.host,
    port: out.port,
    dir: absolute,
    dataDir: out.dataDir,
    socket: out.socket,
    pidFile: out.pidFile,
    caFile: out.caFile,
    adminUser: out.adminUser,
    adminPassword: out.adminPassword,
    errorLog: join(absolute, 'error.log'),
    readCa: () => readFileSync(out.caFile, 'utf8'),
    // The script does nothing when the server is not running.
    stop: async () => {
      await runScript(['stop', absolute], STOP_TIMEOUT_MS);
    },
  };
}
