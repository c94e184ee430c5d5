import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toAthenaDdl } from '../../src/catalog/athena-ddl.js';
import { crawl } from '../../src/catalog/crawl.js';
import type { TableDefinition } from '../../src/catalog/table.js';
import { MemoryStorage } from '../../src/memory-storage.js';

// The partition values Athena projects from toAthenaDdl's TBLPROPERTIES, computed the way Athena's
// partition projection documents each type (Java 17, the JDK of the Spark tests): `integer` from
// the range's first to last value by `interval`, zero-padded to `digits`; `date` parsed and
// formatted with java.time's DateTimeFormatter in `format`, a bound `NOW[+-N UNIT]` taken at the
// query's time (UTC), stepped by `interval` `interval.unit` (a ChronoUnit) up to the last bound;
// `enum` its values. The query's time is an argument, so "a year from now" is tested today.

const JAVA = `
import java.io.*;
import java.time.*;
import java.time.format.*;
import java.time.temporal.*;
import java.util.*;
import java.util.regex.*;

public class Projection {
  // Athena's pattern for relative bounds.
  static final Pattern NOW = Pattern.compile(
    "\\\\s*NOW\\\\s*(([\\\\+\\\\-])\\\\s*([0-9]+)\\\\s*(YEARS?|MONTHS?|WEEKS?|DAYS?|HOURS?|MINUTES?|SECONDS?)\\\\s*)?");

  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
    LocalDateTime now = LocalDateTime.ofInstant(Instant.ofEpochMilli(Long.parseLong(in.readLine().trim())), ZoneOffset.UTC);
    Map<String, String> p = new LinkedHashMap<>();
    String line;
    while ((line = in.readLine()) != null) {
      int eq = line.indexOf('=');
      p.put(line.substring(0, eq), line.substring(eq + 1));
    }
    for (String key : p.keySet()) {
      if (!key.startsWith("projection.") || !key.endsWith(".type")) continue;
      String column = key.substring("projection.".length(), key.length() - ".type".length());
      String at = "projection." + column + ".";
      String type = p.get(key).trim().toLowerCase(Locale.ROOT);
      List<String> values = new ArrayList<>();
      if (type.equals("integer")) {
        String[] range = p.get(at + "range").split(",");
        long step = Long.parseLong(p.getOrDefault(at + "interval", "1").trim());
        int digits = Integer.parseInt(p.getOrDefault(at + "digits", "0").trim());
        for (long v = Long.parseLong(range[0].trim()); v <= Long.parseLong(range[1].trim()); v += step)
          values.add(digits > 0 ? String.format("%0" + digits + "d", v) : Long.toString(v));
      } else if (type.equals("date")) {
        DateTimeFormatter format = new DateTimeFormatterBuilder().appendPattern(p.get(at + "format"))
          .parseDefaulting(ChronoField.MONTH_OF_YEAR, 1).parseDefaulting(ChronoField.DAY_OF_MONTH, 1)
          .parseDefaulting(ChronoField.HOUR_OF_DAY, 0).toFormatter(Locale.US);
        String[] range = p.get(at + "range").split(",");
        // Bounds at the precision of the format, as the values are written in it.
        LocalDateTime first = LocalDateTime.parse(format.format(bound(range[0], format, now)), format);
        LocalDateTime last = LocalDateTime.parse(format.format(bound(range[1], format, now)), format);
        long step = Long.parseLong(p.get(at + "interval").trim());
        ChronoUnit unit = ChronoUnit.valueOf(p.get(at + "interval.unit").trim().toUpperCase(Locale.ROOT));
        for (LocalDateTime v = first; !v.isAfter(last); v = v.plus(step, unit)) values.add(format.format(v));
      } else if (type.equals("enum")) {
        values.addAll(Arrays.asList(p.get(at + "values").split(",")));
      } else {
        throw new IllegalArgumentException(column + ": " + type + " cannot be enumerated");
      }
      System.out.println(column + "\\t" + String.join(",", values));
    }
    if (p.containsKey("storage.location.template")) System.out.println("\\ttemplate\\t" + p.get("storage.location.template"));
  }

  static LocalDateTime bound(String text, DateTimeFormatter format, LocalDateTime now) {
    Matcher m = NOW.matcher(text);
    if (!m.matches()) return LocalDateTime.parse(text, format);
    if (m.group(1) == null) return now;
    String unit = m.group(4).toUpperCase(Locale.ROOT);
    long n = Long.parseLong(m.group(3));
    return now.plus(m.group(2).equals("+") ? n : -n, ChronoUnit.valueOf(unit.endsWith("S") ? unit : unit + "S"));
  }
}
`;

let dir: string;
let source: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tributary-athena-projection-'));
  source = join(dir, 'Projection.java');
  await writeFile(source, JAVA);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** TBLPROPERTIES of a DDL statement (the values the lake writes hold no quote or backslash). */
function tableProperties(ddl: string): [string, string][] {
  const block = ddl.slice(ddl.indexOf('TBLPROPERTIES ('));
  return [...block.matchAll(/^ {2}'([^'\\]+)'='([^'\\]*)',?$/gm)].map((m) => [
    m[1] as string,
    m[2] as string,
  ]);
}

/** The values Athena projects for each key at `now`, and the location template. */
function project(ddl: string, now: Date): Promise<{ values: Map<string, string[]>; template?: string }> {
  const input = `${now.getTime()}\n${tableProperties(ddl)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
  return new Promise((resolve, reject) => {
    const child = spawn('java', ['-Duser.language=en', '-Duser.country=US', source]);
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`java exited with ${code}: ${err}`));
      const values = new Map<string, string[]>();
      let template: string | undefined;
      for (const line of out.trim().split('\n')) {
        const [column, list, rest] = line.split('\t');
        if (column === '' && list === 'template') template = rest;
        else values.set(column as string, (list as string).split(','));
      }
      resolve(template === undefined ? { values } : { values, template });
    });
    child.stdin.end(input);
  });
}

/** The raw sensors table as the pipelines crawl it: Firehose `YYYY/MM/DD/HH` folders. */
async function rawTable(hours: readonly string[]): Promise<TableDefinition> {
  const storage = new MemoryStorage();
  for (const hour of hours) {
    await storage.put(
      `sensors/${hour}/sensors-1-${hour.replaceAll('/', '-')}-00-00-a.ndjson`,
      `${JSON.stringify({ id: hour, value: 1, timestamp: `${hour.slice(0, 10).replaceAll('/', '-')}T00:00:00.000Z` })}\n`,
    );
  }
  return crawl(storage, 'sensors', { name: 'raw_sensors', location: 's3://tributary-raw/sensors/' });
}

/** Whether Athena's projection at `now` reads the partition: every value projected, the template giving its folder. */
function projects(
  projection: { values: Map<string, string[]>; template?: string },
  definition: TableDefinition,
  partition: { values: string[]; location: string },
): boolean {
  const inRange = definition.partitionKeys.every((key, i) =>
    projection.values.get(key.name)?.includes(partition.values[i] as string),
  );
  const folder = definition.partitionKeys.reduce(
    (text, key, i) => text.replace(`\${${key.name}}`, partition.values[i] as string),
    projection.template ?? '',
  );
  return inRange && folder === partition.location;
}

describe('toAthenaDdl partition projection, evaluated as Athena documents it', () => {
  it('reads a 2027 hour of a raw table crawled in 2026, queried in 2027', async () => {
    const crawled = await rawTable(['2026/11/23/10', '2026/12/31/23']);
    const [later] = (await rawTable(['2027/03/05/08'])).partitions;

    const projection = await project(
      toAthenaDdl(crawled, { projection: true }),
      new Date('2027-03-05T08:30:00Z'),
    );

    expect(projection.values.get('year')).toEqual(['2026', '2027']);
    expect(later && projects(projection, crawled, later)).toBe(true);
    for (const partition of crawled.partitions) expect(projects(projection, crawled, partition)).toBe(true);
  });

  it('reads every year up to the query’s, years after the crawl', async () => {
    const crawled = await rawTable(['2026/11/23/10']);

    const projection = await project(
      toAthenaDdl(crawled, { projection: true }),
      new Date('2031-01-01T00:00:00Z'),
    );

    expect(projection.values.get('year')).toEqual(['2026', '2027', '2028', '2029', '2030', '2031']);
  });

  it('would miss the 2027 hour with the year range pinned to the years seen (the former default)', async () => {
    const crawled = await rawTable(['2026/11/23/10']);
    const [later] = (await rawTable(['2027/03/05/08'])).partitions;
    const pinned = toAthenaDdl(crawled, {
      projection: { keys: { year: { type: 'integer', range: '2026,2026' } } },
    });

    const projection = await project(pinned, new Date('2027-03-05T08:30:00Z'));

    expect(later && projects(projection, crawled, later)).toBe(false);
  });
});
