// Reading environment variables for the configuration: every problem collected, so that one
// run reports all of them, and no message showing more of a value than it may.
import { ConfigError } from './errors.js';
import { Secret } from './secret.js';

/** The environment variables a configuration is read from. */
export type Env = Readonly<Record<string, string | undefined>>;

/** A variable that is missing or wrong, and what is wrong with it. */
export interface Problem {
  variable: string;
  message: string;
}

const TRUE_WORDS = new Set(['true', '1', 'yes']);
const FALSE_WORDS = new Set(['false', '0', 'no']);
export const BUCKET_RULE =
  '3–63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit';

/** Collects every problem so one run reports all of them, not one per attempt. */
export class EnvReader {
  readonly problems: Problem[] = [];

  constructor(private readonly env: Env) {}

  /** Trimmed value; empty and blank strings count as unset, as most shells and .env files intend. */
  get(name: string): string | undefined {
    const raw = this.env[name];
    if (typeof raw !== 'string') return undefined;
    const value = raw.trim();
    return value === '' ? undefined : value;
  }

  fail(variable: string, message: string): undefined {
    this.problems.push({ variable, message });
    return undefined;
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.get(name);
    if (value === undefined) return fallback;
    const word = value.toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    this.fail(name, `${name} must be true, false, 1, 0, yes or no ${got(value)}`);
    return fallback;
  }

  /**
   * An http(s) URL with no credentials, query string or fragment (where tokens hide; clients
   * append paths to it). Messages show the scheme and host at most.
   */
  httpUrl(name: string, value: string, credentialsFrom: string): string | undefined {
    const url = parseUrl(value);
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.host === '') {
      return this.fail(name, `${name} must be an http:// or https:// URL ${urlHint(value)}`);
    }
    if (url.username !== '' || url.password !== '') {
      return this.fail(
        name,
        `${name} must not carry credentials (user:password@): ${credentialsFrom} ${urlHint(value)}`,
      );
    }
    if (value.includes('?') || value.includes('#')) {
      return this.fail(
        name,
        `${name} must have no query string or fragment: ${credentialsFrom} ${urlHint(value)}`,
      );
    }
    return value;
  }

  /** Validates `s3://bucket[/prefix]` and returns it without a trailing slash. */
  s3Url(name: string, value: string): string | undefined {
    const url = parseUrl(value);
    if (url !== undefined && (url.username !== '' || url.password !== '')) {
      return this.fail(
        name,
        `${name} must not carry credentials (user:password@): they come from the AWS credential chain ${urlHint(value)}`,
      );
    }
    const match = /^s3:\/\/([^/]*)(?:\/(.*))?$/.exec(value);
    if (!match) return this.fail(name, `${name} must be an s3://bucket[/prefix] URL ${urlHint(value)}`);
    const bucket = match[1] ?? '';
    if (!isBucketName(bucket)) {
      return this.fail(name, `${name} must name a valid S3 bucket (${BUCKET_RULE}) ${urlHint(value)}`);
    }
    const prefix = (match[2] ?? '').replace(/^\/+|\/+$/g, '');
    return prefix === '' ? `s3://${bucket}` : `s3://${bucket}/${prefix}`;
  }

  /** Connection URLs carry passwords: the value never appears in a message or a cause. */
  postgresUrl(name: string): Secret | undefined {
    const value = this.get(name);
    if (value === undefined) return undefined;
    const url = parseUrl(value);
    if (url === undefined || (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')) {
      return this.fail(
        name,
        `${name} must be a postgres:// or postgresql:// URL (value not shown: it may contain a password)`,
      );
    }
    return new Secret(value);
  }

  matching(name: string, fallback: string, pattern: RegExp, rule: string): string {
    const value = this.get(name);
    if (value === undefined) return fallback;
    if (!pattern.test(value)) {
      this.fail(name, `${name} must be ${rule} ${got(value)}`);
      return fallback;
    }
    return value;
  }
}

/** Throw a `ConfigError` naming the variables, all of them when there are several. */
export function throwProblems(problems: readonly Problem[]): void {
  const [first] = problems;
  if (first === undefined) return;
  if (problems.length === 1) throw new ConfigError(first.message, { variable: first.variable });
  throw new ConfigError(
    `${problems.length} configuration problems: ${problems.map((p) => p.message).join('; ')}`,
    {
      variable: first.variable,
      variables: problems.map((p) => p.variable),
    },
  );
}

/** Keep one of each problem reported twice (the same variable and message). */
export function dedupeProblems(problems: Problem[]): void {
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const key = `${p.variable}\0${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  problems.splice(0, problems.length, ...unique);
}

/** Whether `name` is a valid S3 bucket name. */
export function isBucketName(name: string): boolean {
  return (
    name.length >= 3 &&
    name.length <= 63 &&
    /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name) &&
    !name.includes('..') &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(name)
  );
}

/** A URL, or `undefined` for text that does not parse as one. */
export function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

/**
 * The offending value for a message, quoted and cut short. Only for values that cannot carry a
 * secret (a mode, a region, a number); URL-valued settings use {@link urlHint}.
 */
export function got(value: string): string {
  const excerpt = value.length > 80 ? `${value.slice(0, 80)}…` : value;
  return `(got ${JSON.stringify(excerpt)})`;
}

/**
 * What a message may show of a URL-valued setting: its scheme and host, never the userinfo,
 * path, query or fragment, any of which can hold a credential. Text that does not start with
 * `scheme://` is not shown at all (in `key:secret@host` the "scheme" would be the key).
 */
export function urlHint(value: string): string {
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? parseUrl(value) : undefined;
  if (url === undefined) return '(value not shown: it is not a URL)';
  const host = url.host === '' ? '' : `, host ${JSON.stringify(url.host)}`;
  return `(got scheme ${JSON.stringify(url.protocol)}${host}; the rest not shown)`;
}
