// The COPY statement a Redshift load runs (its authorization shown redacted), and the rows
// Redshift logs when it rejects one.
import { type Fields, type PgClient, quoteLiteral, type Schema } from '@tributary/core';
import type { LoadErrorDetail } from './errors.js';
import type { RedshiftCredentials } from './redshift-options.js';
import type { CopyUnit, FileKind } from './redshift-plan.js';

const REDACTED = '<redacted>';
const DETAIL_ROWS = 100;

/** A COPY's text as sent, and as it may be shown in errors (credentials redacted). */
export interface CopyText {
  text: string;
  shown: string;
}

/** The authorization part of COPY: the real one, and the one that may be shown. */
export function copyAuthorization(
  iamRole: string | undefined,
  credentials: RedshiftCredentials | undefined,
): CopyText {
  if (credentials === undefined) {
    const role = `IAM_ROLE ${quoteLiteral(iamRole as string)}`;
    return { text: role, shown: role };
  }
  const { accessKeyId, secretAccessKey, sessionToken } = credentials;
  const text = `ACCESS_KEY_ID ${quoteLiteral(accessKeyId)} SECRET_ACCESS_KEY ${quoteLiteral(secretAccessKey)}${sessionToken === undefined ? '' : ` SESSION_TOKEN ${quoteLiteral(sessionToken)}`}`;
  const shown = `ACCESS_KEY_ID '${REDACTED}' SECRET_ACCESS_KEY '${REDACTED}'${sessionToken === undefined ? '' : ` SESSION_TOKEN '${REDACTED}'`}`;
  return { text, shown };
}

/** `COPY into FROM url` for one copy unit, in the format of the plan's files. */
export function copySql(
  into: string,
  copy: CopyUnit,
  files: { kind: FileKind | undefined; schema: Schema<Fields> },
  auth: CopyText,
  region: string | undefined,
): CopyText {
  let format: string;
  if (files.kind === 'parquet') {
    // Parquet COPY accepts neither TIMEFORMAT nor REGION; lists load into SUPER as JSON.
    format = `FORMAT AS PARQUET${files.schema.columns.some((c) => c.def.kind === 'list') ? ' SERIALIZETOJSON' : ''}`;
  } else {
    format = `FORMAT AS JSON 'auto'${files.kind === 'json.gz' ? ' GZIP' : ''} TIMEFORMAT 'auto'${region ? ` REGION ${quoteLiteral(region)}` : ''}`;
  }
  const head = `COPY ${into} FROM ${quoteLiteral(copy.url)}`;
  const tail = `${copy.manifest ? ' MANIFEST' : ''} ${format}`;
  return { text: `${head} ${auth.text}${tail}`, shown: `${head} ${auth.shown}${tail}` };
}

function trimmed(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  const text = String(value).trim();
  return text === '' ? undefined : text;
}

function numberOrUndefined(value: unknown): number | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** The statement Redshift's COPY errors are read back with (STL first, then SYS for Serverless). */
export const STL_LOAD_ERRORS_SQL = `SELECT TRIM(filename) AS file_name, line_number, TRIM(colname) AS column_name, TRIM(type) AS column_type, TRIM(raw_field_value) AS raw_field_value, TRIM(raw_line) AS raw_line, err_code AS error_code, TRIM(err_reason) AS error_reason FROM stl_load_errors WHERE query = pg_last_copy_id() ORDER BY line_number LIMIT ${DETAIL_ROWS}`;
export const SYS_LOAD_ERROR_DETAIL_SQL = `SELECT TRIM(file_name) AS file_name, line_number, TRIM(column_name) AS column_name, TRIM(column_type) AS column_type, error_code, TRIM(error_message) AS error_reason FROM sys_load_error_detail WHERE query_id = pg_last_copy_id() ORDER BY line_number LIMIT ${DETAIL_ROWS}`;

/** The rows Redshift logged for the session's last COPY: STL first, SYS when STL is missing (Serverless). */
export async function readLoadErrors(client: PgClient): Promise<LoadErrorDetail[]> {
  let rows: Record<string, unknown>[];
  try {
    rows = (await client.query(STL_LOAD_ERRORS_SQL)).rows;
  } catch {
    try {
      rows = (await client.query(SYS_LOAD_ERROR_DETAIL_SQL)).rows;
    } catch {
      return [];
    }
  }
  return rows.map((r) => ({
    file: trimmed(r.file_name) ?? '',
    line: numberOrUndefined(r.line_number),
    column: trimmed(r.column_name),
    columnType: trimmed(r.column_type),
    rawValue: trimmed(r.raw_field_value),
    rawLine: trimmed(r.raw_line),
    errorCode: numberOrUndefined(r.error_code),
    reason: trimmed(r.error_reason) ?? 'unknown',
  }));
}
