import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirehosePrefixError } from '../../src/errors.js';
import { evaluateFirehosePrefix, parseFirehosePrefix } from '../../src/firehose-prefix.js';

// Firehose formats `!{timestamp:<pattern>}` with Java's DateTimeFormatter. The same patterns and
// instants go through Java 17 (the JDK the Spark tests use; the single-file launcher runs the
// source below) and through the lake's grammar: every pattern Java refuses is refused here, and
// every pattern both accept prints the same text.

const run = promisify(execFile);

const JAVA = `
import java.io.*;
import java.time.*;
import java.time.format.*;
import java.util.*;

public class Format {
  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
    PrintStream out = new PrintStream(System.out, true, "UTF-8");
    long[] instants = Arrays.stream(in.readLine().split(",")).mapToLong(Long::parseLong).toArray();
    String pattern;
    while ((pattern = in.readLine()) != null) {
      DateTimeFormatter formatter;
      try {
        formatter = DateTimeFormatter.ofPattern(pattern, Locale.US);
      } catch (IllegalArgumentException e) {
        out.println("REFUSED\\t" + e.getMessage());
        continue;
      }
      StringBuilder line = new StringBuilder("OK");
      for (long ms : instants) {
        line.append('\\t').append(formatter.format(Instant.ofEpochMilli(ms).atZone(ZoneOffset.UTC)));
      }
      out.println(line);
    }
  }
}
`;

const INSTANTS = [
  Date.UTC(2026, 10, 23, 10, 15, 0),
  Date.UTC(2026, 0, 1, 0, 0, 0, 7),
  Date.UTC(2024, 11, 31, 23, 59, 59, 999), // leap year, day 366
  Date.UTC(2027, 5, 6, 12, 5, 9, 120), // noon: h=12, K=0
  Date.UTC(2001, 2, 4, 1, 2, 3, 45),
  Date.UTC(1970, 0, 1),
  Date.UTC(2099, 6, 15, 18, 30),
];

// Each letter at every count Java has a rule for, and one beyond; literals, quotes, optional
// sections, reserved characters; the patterns people write.
const LETTERS = 'GuyDMLdQqEahKkHmsSAnNXxZO';
const PATTERNS = [
  ...[...LETTERS].flatMap((letter) => [1, 2, 3, 4, 5, 6].map((n) => letter.repeat(n))),
  'SSSSSSSSS',
  'SSSSSSSSSS',
  'yyyyyyyyyy',
  'yyyy/MM/dd/HH',
  'yyyy-MM-dd',
  "'year='yyyy'/month='MM'/day='dd'/hour='HH",
  "yyyy'-'MM'-'dd",
  "yyyy''MM",
  "''",
  "'it''s'",
  'yyyy[-MM[-dd]]',
  'yyyy]',
  '[yyyy',
  'uuuu-DDD',
  'EEE, dd MMM yyyy HH:mm:ss',
  'hh:mm a',
  'kk KK',
  'yyyy-MM-dd HH:mm:ss.SSS',
  'yyyy#MM',
  'yyyy{MM',
  "yyyy'MM",
  'yyyyMMddHHmmssSSS',
  'xxx XXX ZZZZZ',
  'Qyyyy',
  'b',
  'l',
  'J',
];

let dir: string;
let java: Map<string, { refused: true } | { refused: false; texts: string[] }>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tributary-java-time-'));
  const source = join(dir, 'Format.java');
  await writeFile(source, JAVA);
  const child = run('java', ['-Duser.language=en', '-Duser.country=US', source], { maxBuffer: 16 << 20 });
  child.child.stdin?.end(`${INSTANTS.join(',')}\n${PATTERNS.join('\n')}\n`);
  const { stdout } = await child;
  const lines = stdout.trimEnd().split('\n');
  expect(lines).toHaveLength(PATTERNS.length);
  java = new Map(
    PATTERNS.map((pattern, i) => {
      const [status, ...texts] = (lines[i] as string).split('\t');
      return [pattern, status === 'OK' ? { refused: false, texts } : { refused: true }];
    }),
  );
}, 60_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The lake's output for each instant, or the reason it refused the pattern. */
function lake(pattern: string): { refused: true; reason: string } | { refused: false; texts: string[] } {
  try {
    const prefix = parseFirehosePrefix(`!{timestamp:${pattern}}`);
    return { refused: false, texts: INSTANTS.map((time) => evaluateFirehosePrefix(prefix, { time })) };
  } catch (error) {
    expect(error).toBeInstanceOf(FirehosePrefixError);
    return { refused: true, reason: (error as FirehosePrefixError).message };
  }
}

describe('Firehose !{timestamp:...} against Java 17 DateTimeFormatter', () => {
  it('refuses what Java refuses and prints what Java prints for the rest', () => {
    const disagreements: string[] = [];
    let compared = 0;
    for (const pattern of PATTERNS) {
      // `}` ends the expression, so Java's reserved `}` cannot even reach the pattern.
      const theirs = java.get(pattern);
      const ours = lake(pattern);
      if (theirs === undefined) throw new Error(`no Java answer for ${pattern}`);
      if (theirs.refused) {
        if (!ours.refused)
          disagreements.push(`${pattern}: Java refuses it, the lake prints ${ours.texts[0]}`);
      } else if (!ours.refused) {
        compared++;
        if (ours.texts.join('|') !== theirs.texts.join('|')) {
          disagreements.push(`${pattern}: Java ${theirs.texts.join('|')} lake ${ours.texts.join('|')}`);
        }
      } else if (!/is not supported/.test(ours.reason)) {
        // Refusing what Java accepts is allowed only for the letters the grammar documents.
        disagreements.push(`${pattern}: Java accepts it, the lake refuses it: ${ours.reason}`);
      }
    }
    expect(disagreements).toEqual([]);
    expect(compared).toBeGreaterThan(100);
  });

  it('refuses the locale- and zone-dependent letters Java accepts, saying why', () => {
    for (const pattern of ['YYYY', 'ww', 'W', 'e', 'VV', 'z', 'v', 'F', 'ppH']) {
      const ours = lake(pattern);
      expect(ours.refused, pattern).toBe(true);
      expect(ours.refused && ours.reason, pattern).toMatch(/is not supported: /);
    }
  });
});
