/**
 * The run registry: one SQLite file (better-sqlite3) holding every registered run's config,
 * per-epoch metrics and summary. Experiments ingest a run directory when they start it and again
 * after each epoch and at the end; `saln runs` and the reports read from it.
 *
 * The run directory stays the source of truth: ingest() re-reads it and replaces what the registry
 * holds for it (keeping the id and the first registration time), so ingesting again is always safe.
 *
 * WAL mode with a busy timeout lets `saln runs ls` read while an experiment writes.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { cacheDir } from '../cache-dir.js';
import { withCumulative, type EpochMetrics, type Summary, type TrainConfig } from '../train/records.js';
import { RunDir, RunDirError } from '../train/run-dir.js';
import { readRunDir, type RunRecord, type RunStatus } from './run-record.js';

/** Marks the file as a saln registry ('SALN'), so another program's database is refused. */
const APPLICATION_ID = 0x53414c4e;
/** The schema version in PRAGMA user_version; each migration below moves it up by one. */
export const SCHEMA_VERSION = 1;
/** How long a writer waits for another process's lock before failing (ms). */
const BUSY_TIMEOUT_MS = 10_000;

/** migrations[v] moves a database at user_version v to v + 1. */
const MIGRATIONS: readonly string[] = [
  // AUTOINCREMENT: an id, once given, is never reused after rm (reports and notes cite ids).
  `CREATE TABLE runs (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     run_dir TEXT NOT NULL UNIQUE,
     experiment TEXT,
     dataset TEXT NOT NULL,
     label TEXT NOT NULL,
     method TEXT NOT NULL,
     seed INTEGER NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('complete', 'incomplete')),
     epochs_done INTEGER NOT NULL,
     test_accuracy REAL,
     best_val_accuracy REAL,
     wall_seconds REAL,
     config TEXT NOT NULL,
     summary TEXT,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );
   CREATE INDEX runs_experiment ON runs (experiment);
   CREATE TABLE epochs (
     run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
     epoch INTEGER NOT NULL,
     filter_ratio REAL,
     train_loss REAL,
     train_accuracy REAL,
     val_loss REAL,
     val_accuracy REAL,
     wall_seconds REAL,
     metrics TEXT NOT NULL,
     PRIMARY KEY (run_id, epoch)
   ) WITHOUT ROWID;`,
];

/** A registry file that cannot be used (not SQLite, not saln's, too new): exit code 2 in the CLI. */
export class RegistryError extends InputError {
  declare readonly path: string;
  constructor(message: string, path: string) {
    super('registry', message, { path });
  }
}

export interface RunFilter {
  experiment?: string;
  dataset?: string;
  method?: string;
  label?: string;
  status?: RunStatus;
}

export interface IngestOptions {
  /** The experiment that made the run (omitted: keep what is registered; null for a new run). */
  experiment?: string;
  /** How reports group the run (omitted: keep what is registered; the method for a new run). */
  label?: string;
}

/** `$SALN_REGISTRY`, else `<cache>/registry.sqlite`. */
export function defaultRegistryPath(): string {
  const env = process.env.SALN_REGISTRY;
  return env ? resolve(env) : join(cacheDir(), 'registry.sqlite');
}

interface RunRow {
  id: number;
  run_dir: string;
  experiment: string | null;
  dataset: string;
  label: string;
  method: string;
  seed: number;
  status: RunStatus;
  config: string;
  summary: string | null;
  created_at: string;
  updated_at: string;
}

/** A finite number, else null (SQLite has no NaN; JSON wrote NaN as null anyway). */
function finite(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export class Registry {
  private constructor(private readonly db: Database.Database, readonly path: string) {}

  /** Opens (creating it and its parent folders if needed) the registry at path. */
  static open(path: string = defaultRegistryPath()): Registry {
    const abs = resolve(path);
    if (existsSync(abs) && statSync(abs).isDirectory()) throw new RegistryError(`registry ${abs} is a directory, not a file`, abs);
    mkdirSync(dirname(abs), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(abs, { timeout: BUSY_TIMEOUT_MS });
    } catch (e) {
      throw new RegistryError(`cannot open registry ${abs}: ${(e as Error).message}`, abs);
    }
    try {
      // The first statement reads the header: a file that is not SQLite fails here.
      db.pragma('journal_mode = WAL');
      db.pragma('foreign_keys = ON');
      migrate(db, abs);
    } catch (e) {
      db.close();
      if (e instanceof RegistryError) throw e;
      throw new RegistryError(`${abs} is not a saln registry (${(e as Error).message})`, abs);
    }
    return new Registry(db, abs);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /**
   * Reads runDir (readRunDir) and inserts or updates its row by absolute path: the id and
   * created_at stay, everything read from disk is replaced, epochs in the same transaction.
   */
  ingest(runDir: string, o: IngestOptions = {}): RunRecord {
    const c = readRunDir(runDir);
    const seen = new Set<number>();
    for (const m of c.metrics) {
      if (seen.has(m.epoch)) {
        const file = RunDir.at(c.runDir).file('metrics');
        throw new RunDirError(`${file}: epoch ${m.epoch} appears twice`, file);
      }
      seen.add(m.epoch);
    }
    const now = new Date().toISOString();
    const upsert = this.db.prepare<Record<string, unknown>, { id: number }>(`
      INSERT INTO runs (run_dir, experiment, dataset, label, method, seed, status, epochs_done, test_accuracy, best_val_accuracy, wall_seconds, config, summary, created_at, updated_at)
      VALUES (@run_dir, @experiment, @dataset, COALESCE(@label, @method), @method, @seed, @status, @epochs_done, @test_accuracy, @best_val_accuracy, @wall_seconds, @config, @summary, @now, @now)
      ON CONFLICT (run_dir) DO UPDATE SET
        experiment = COALESCE(@experiment, runs.experiment), dataset = excluded.dataset, label = COALESCE(@label, runs.label),
        method = excluded.method, seed = excluded.seed, status = excluded.status, epochs_done = excluded.epochs_done,
        test_accuracy = excluded.test_accuracy, best_val_accuracy = excluded.best_val_accuracy, wall_seconds = excluded.wall_seconds,
        config = excluded.config, summary = excluded.summary, updated_at = excluded.updated_at
      RETURNING id`);
    const clear = this.db.prepare('DELETE FROM epochs WHERE run_id = ?');
    const addEpoch = this.db.prepare(`INSERT INTO epochs (run_id, epoch, filter_ratio, train_loss, train_accuracy, val_loss, val_accuracy, wall_seconds, metrics)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const id = this.db.transaction((): number => {
      const row = upsert.get({
        run_dir: c.runDir, experiment: o.experiment ?? null, dataset: c.dataset, label: o.label ?? null, method: c.method, seed: c.seed,
        status: c.status, epochs_done: c.metrics.length, test_accuracy: finite(c.summary?.test_accuracy),
        best_val_accuracy: finite(c.summary?.best_val_accuracy), wall_seconds: finite(c.summary?.wall_seconds),
        config: JSON.stringify(c.config), summary: c.summary ? JSON.stringify(c.summary) : null, now,
      })!;
      clear.run(row.id);
      for (const m of c.metrics) {
        addEpoch.run(row.id, m.epoch, finite(m.filter_ratio), finite(m.train_loss), finite(m.train_accuracy), finite(m.val_loss), finite(m.val_accuracy), finite(m.wall_seconds), JSON.stringify(m));
      }
      return row.id;
    }).immediate();
    return this.get(id)!;
  }

  get(id: number): RunRecord | null {
    const row = this.db.prepare<[number], RunRow>('SELECT * FROM runs WHERE id = ?').get(id);
    return row ? this.toRecord(row, this.epochsOf([id]).get(id) ?? []) : null;
  }

  /** The runs matching every given field, ordered by id. */
  list(filter: RunFilter = {}): RunRecord[] {
    const where: string[] = [];
    const params: Record<string, string> = {};
    for (const key of ['experiment', 'dataset', 'method', 'label', 'status'] as const) {
      const v = filter[key];
      if (v === undefined) continue;
      where.push(`${key} = @${key}`);
      params[key] = v;
    }
    const rows = this.db.prepare<Record<string, string>, RunRow>(`SELECT * FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`).all(params);
    const epochs = this.epochsOf(rows.map((r) => r.id));
    return rows.map((r) => this.toRecord(r, epochs.get(r.id) ?? []));
  }

  /** Forgets a run (its directory is left alone); false when there was no such id. */
  remove(id: number): boolean {
    return this.db.prepare('DELETE FROM runs WHERE id = ?').run(id).changes > 0;
  }

  /** The experiment names that have runs, sorted. */
  experiments(): string[] {
    return this.db.prepare<[], { experiment: string }>('SELECT DISTINCT experiment FROM runs WHERE experiment IS NOT NULL ORDER BY experiment').all().map((r) => r.experiment);
  }

  private epochsOf(ids: number[]): Map<number, EpochMetrics[]> {
    const out = new Map<number, EpochMetrics[]>();
    if (ids.length === 0) return out;
    // json_each keeps this one statement whatever the number of ids (no variable limit).
    const rows = this.db.prepare<[string], { run_id: number; metrics: string }>('SELECT run_id, metrics FROM epochs WHERE run_id IN (SELECT value FROM json_each(?)) ORDER BY run_id, epoch').all(JSON.stringify(ids));
    for (const r of rows) {
      let list = out.get(r.run_id);
      if (!list) out.set(r.run_id, (list = []));
      list.push(JSON.parse(r.metrics) as EpochMetrics);
    }
    return out;
  }

  private toRecord(r: RunRow, metrics: EpochMetrics[]): RunRecord {
    return {
      id: r.id, runDir: r.run_dir, experiment: r.experiment, dataset: r.dataset, label: r.label, method: r.method, seed: r.seed, status: r.status,
      // Rows registered before metrics carried `cumulative` get it derived, as run directories do.
      config: JSON.parse(r.config) as TrainConfig, metrics: withCumulative(metrics), summary: r.summary === null ? null : (JSON.parse(r.summary) as Summary),
      createdAt: r.created_at, updatedAt: r.updated_at,
    };
  }
}

/** Creates or upgrades the schema; refuses databases that are not saln's or are newer than this code. */
function migrate(db: Database.Database, path: string): void {
  // The usual case reads two pragmas and takes no write lock (a reader must not wait on a writer).
  if (db.pragma('user_version', { simple: true }) === SCHEMA_VERSION && db.pragma('application_id', { simple: true }) === APPLICATION_ID) return;
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    const appId = db.pragma('application_id', { simple: true }) as number;
    if (version === 0) {
      const tables = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'").get()!.n;
      if (tables > 0 || (appId !== 0 && appId !== APPLICATION_ID)) throw new RegistryError(`${path} is not a saln registry (an SQLite database with other tables)`, path);
      db.pragma(`application_id = ${APPLICATION_ID}`);
    } else if (appId !== APPLICATION_ID) {
      throw new RegistryError(`${path} is not a saln registry (an SQLite database of another application)`, path);
    }
    if (version > SCHEMA_VERSION) throw new RegistryError(`registry ${path} has schema version ${version}, newer than this saln's ${SCHEMA_VERSION}: upgrade saln`, path);
    for (let v = version; v < SCHEMA_VERSION; v++) {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }
  }).immediate();
}
