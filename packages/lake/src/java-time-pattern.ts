// Java's DateTimeFormatter patterns, as Firehose evaluates `!{timestamp:<pattern>}`: compiled
// once, then formatted for an instant in UTC with English text (what Firehose writes). The letter
// rules (how many of each, what each count prints) follow DateTimeFormatterBuilder.appendPattern
// of Java 17; tests/integration/java-time-pattern.test.ts compares the output with Java's own.

/** One compiled piece of a pattern: fixed text, or a function of the UTC fields. */
export type JavaTimeToken = { readonly literal: string } | { readonly field: (t: UtcFields) => string };

/** The fields of an instant in UTC that the pattern letters print. */
export interface UtcFields {
  readonly year: number;
  /** 1–12. */
  readonly month: number;
  readonly day: number;
  /** 1–366. */
  readonly dayOfYear: number;
  /** 1 (Monday) – 7 (Sunday), ISO. */
  readonly dayOfWeek: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly millisecond: number;
}

/** Why a pattern is refused; the caller wraps it in its own typed error. */
export class JavaTimePatternProblem {
  constructor(readonly reason: string) {}
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const QUARTERS = ['1st quarter', '2nd quarter', '3rd quarter', '4th quarter'];

// Letters Java knows but whose output here could differ from Firehose's: they depend on the
// locale's week rules, on how Firehose names its zone, or on the Java version.
const REFUSED: Readonly<Record<string, string>> = {
  Y: 'the week-based year depends on the locale’s week rules (yyyy is the calendar year)',
  w: 'the week of the year depends on the locale’s week rules',
  W: 'the week of the month depends on the locale’s week rules',
  e: 'the localized day of the week depends on the locale’s first day',
  c: 'the localized day of the week depends on the locale’s first day',
  V: 'the zone id depends on how Firehose names its zone (use X, x, Z or O for the offset)',
  z: 'the zone name depends on how Firehose names its zone (use X, x, Z or O for the offset)',
  v: 'the zone name depends on how Firehose names its zone (use X, x, Z or O for the offset)',
  F: 'its field changed between Java versions',
  g: 'the modified Julian day is not supported',
  B: 'day periods depend on the locale and the Java version',
  p: 'padding writes spaces into object keys',
};

const pad = (value: number, width: number) => String(value).padStart(width, '0');

/** Java's appendValue(field): the digits, a minus sign when negative. */
const plain = (get: (t: UtcFields) => number) => (t: UtcFields) => String(get(t));

/** Java's appendValue(field, width): exactly `width` digits (the values here always fit). */
const fixed = (get: (t: UtcFields) => number, width: number) => (t: UtcFields) => pad(get(t), width);

/** Java's appendValue(field, min, 19, style): at least `min` digits; the sign rules of SignStyle. */
function padded(
  get: (t: UtcFields) => number,
  min: number,
  style: 'normal' | 'exceeds-pad' | 'not-negative',
) {
  return (t: UtcFields) => {
    const value = get(t);
    const digits = pad(Math.abs(value), min);
    if (value < 0) return `-${digits}`;
    return style === 'exceeds-pad' && String(value).length > min ? `+${digits}` : digits;
  };
}

const yearOfEra = (t: UtcFields) => (t.year > 0 ? t.year : 1 - t.year);
const millisOfDay = (t: UtcFields) => ((t.hour * 60 + t.minute) * 60 + t.second) * 1000 + t.millisecond;
const quarter = (t: UtcFields) => Math.floor((t.month - 1) / 3) + 1;

function tooMany(letter: string): JavaTimePatternProblem {
  return new JavaTimePatternProblem(`too many pattern letters: ${letter}`);
}

/** Month, quarter or day of week: 1–2 digits, then short, full and narrow text. */
function valueOrText(
  letter: string,
  count: number,
  get: (t: UtcFields) => number,
  names: readonly string[],
  short: (name: string, value: number) => string,
  narrow: (name: string, value: number) => string,
  textOnly = false,
): (t: UtcFields) => string {
  const name = (t: UtcFields) => names[get(t) - 1] as string;
  switch (count) {
    case 1:
    case 2:
      if (textOnly) return (t) => short(name(t), get(t));
      return count === 1 ? plain(get) : fixed(get, 2);
    case 3:
      return (t) => short(name(t), get(t));
    case 4:
      return name;
    case 5:
      return (t) => narrow(name(t), get(t));
    default:
      throw tooMany(letter);
  }
}

function fieldOf(letter: string, count: number): (t: UtcFields) => string {
  switch (letter) {
    case 'G':
      if (count <= 3) return (t) => (t.year > 0 ? 'AD' : 'BC');
      if (count === 4) return (t) => (t.year > 0 ? 'Anno Domini' : 'Before Christ');
      if (count === 5) return (t) => (t.year > 0 ? 'A' : 'B');
      throw tooMany(letter);
    case 'u':
    case 'y': {
      const get = letter === 'u' ? (t: UtcFields) => t.year : yearOfEra;
      if (count === 2) return (t) => pad(Math.abs(get(t) % 100), 2);
      return padded(get, count, count < 4 ? 'normal' : 'exceeds-pad');
    }
    case 'M':
    case 'L':
      return valueOrText(
        letter,
        count,
        (t) => t.month,
        MONTHS,
        (n) => n.slice(0, 3),
        (n) => n.charAt(0),
      );
    case 'Q':
    case 'q':
      return valueOrText(
        letter,
        count,
        quarter,
        QUARTERS,
        (_n, q) => `Q${q}`,
        (_n, q) => String(q),
      );
    case 'E':
      return valueOrText(
        letter,
        count,
        (t) => t.dayOfWeek,
        DAYS,
        (n) => n.slice(0, 3),
        (n) => n.charAt(0),
        true,
      );
    case 'a':
      if (count === 1) return (t) => (t.hour < 12 ? 'AM' : 'PM');
      throw tooMany(letter);
    case 'S':
      if (count > 9) throw tooMany(letter);
      return (t) => pad(t.millisecond, 3).padEnd(9, '0').slice(0, count);
    case 'd':
    case 'h':
    case 'H':
    case 'k':
    case 'K':
    case 'm':
    case 's': {
      const get = {
        d: (t: UtcFields) => t.day,
        h: (t: UtcFields) => t.hour % 12 || 12,
        H: (t: UtcFields) => t.hour,
        k: (t: UtcFields) => t.hour || 24,
        K: (t: UtcFields) => t.hour % 12,
        m: (t: UtcFields) => t.minute,
        s: (t: UtcFields) => t.second,
      }[letter] as (t: UtcFields) => number;
      if (count === 1) return plain(get);
      if (count === 2) return fixed(get, 2);
      throw tooMany(letter);
    }
    case 'D':
      if (count === 1) return plain((t) => t.dayOfYear);
      if (count <= 3) return padded((t) => t.dayOfYear, count, 'not-negative');
      throw tooMany(letter);
    case 'A':
    case 'n':
    case 'N': {
      if (count > 19) throw tooMany(letter);
      const get = {
        A: millisOfDay,
        n: (t: UtcFields) => t.millisecond * 1_000_000,
        N: (t: UtcFields) => millisOfDay(t) * 1_000_000,
      }[letter] as (t: UtcFields) => number;
      return padded(get, count, 'not-negative');
    }
    // The offset letters: Firehose's timestamps are in UTC, so each prints its zero-offset text.
    case 'X':
      if (count > 5) throw tooMany(letter);
      return () => 'Z';
    case 'x':
      if (count > 5) throw tooMany(letter);
      return () => (count === 1 ? '+00' : count % 2 === 0 ? '+0000' : '+00:00');
    case 'Z':
      if (count < 4) return () => '+0000';
      if (count === 4) return () => 'GMT';
      if (count === 5) return () => 'Z';
      throw tooMany(letter);
    case 'O':
      if (count === 1 || count === 4) return () => 'GMT';
      throw new JavaTimePatternProblem('pattern letter count must be 1 or 4: O');
    default: {
      const refused = REFUSED[letter];
      if (refused !== undefined) throw new JavaTimePatternProblem(`${letter} is not supported: ${refused}`);
      throw new JavaTimePatternProblem(`unknown pattern letter: ${letter}`);
    }
  }
}

/**
 * Compiles a Java DateTimeFormatter pattern: letters, `'quoted text'` (`''` is a quote),
 * optional sections `[...]` (always printed: every field is known), and any other character as
 * itself except Java's reserved `#`, `{` and `}`. Throws a {@link JavaTimePatternProblem}.
 */
export function compileJavaTimePattern(pattern: string): JavaTimeToken[] {
  const tokens: JavaTimeToken[] = [];
  let optionalDepth = 0;
  let i = 0;
  while (i < pattern.length) {
    const ch = pattern.charAt(i);
    if (/[A-Za-z]/.test(ch)) {
      let j = i;
      while (pattern.charAt(j) === ch) j++;
      tokens.push({ field: fieldOf(ch, j - i) });
      i = j;
    } else if (ch === "'") {
      let text = '';
      let j = i + 1;
      for (;;) {
        if (j >= pattern.length) {
          throw new JavaTimePatternProblem('the pattern ends inside a quoted literal');
        }
        if (pattern.charAt(j) === "'") {
          if (pattern.charAt(j + 1) === "'") {
            text += "'";
            j += 2;
            continue;
          }
          break;
        }
        text += pattern.charAt(j);
        j++;
      }
      // '' on its own is a quote; 'text' is the text.
      tokens.push({ literal: j === i + 1 ? "'" : text });
      i = j + 1;
    } else if (ch === '[') {
      optionalDepth++;
      i++;
    } else if (ch === ']') {
      if (optionalDepth === 0) throw new JavaTimePatternProblem('"]" without a "[" before it');
      optionalDepth--;
      i++;
    } else if (ch === '#' || ch === '{' || ch === '}') {
      throw new JavaTimePatternProblem(`"${ch}" is reserved in Java patterns`);
    } else {
      tokens.push({ literal: ch });
      i++;
    }
  }
  return tokens;
}

/** The UTC fields of epoch milliseconds. */
export function utcFieldsOf(ms: number): UtcFields {
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  // setUTCFullYear, not Date.UTC, which reads years 0–99 as 1900–1999.
  const jan1 = new Date(0);
  jan1.setUTCFullYear(year, 0, 1);
  const midnight = new Date(ms);
  midnight.setUTCHours(0, 0, 0, 0);
  return {
    year,
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    dayOfYear: Math.round((midnight.getTime() - jan1.getTime()) / 86_400_000) + 1,
    dayOfWeek: d.getUTCDay() === 0 ? 7 : d.getUTCDay(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    millisecond: d.getUTCMilliseconds(),
  };
}

/** Formats epoch milliseconds in UTC with a compiled pattern. */
export function formatJavaTime(tokens: readonly JavaTimeToken[], ms: number): string {
  const fields = utcFieldsOf(ms);
  let out = '';
  for (const token of tokens) out += 'literal' in token ? token.literal : token.field(fields);
  return out;
}
