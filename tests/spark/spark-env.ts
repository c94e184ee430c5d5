// What the Spark tests need from the machine, checked once with a plain message instead of a
// py4j stack trace: the venv's python (tests/setup creates it) and a Java that Spark 3.5 runs on.
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** spark/.venv's interpreter (pyspark 3.5.6, pyiceberg, pytest): scripts/python-env.mjs makes it. */
export const python = join(root, 'spark', '.venv', 'bin', 'python');

/** The Java that pyspark starts: `$JAVA_HOME/bin/java` when JAVA_HOME is set, else `java` on PATH. */
function javaCommand(): string {
  return process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

/**
 * Why Spark cannot start here, or undefined. pyspark 3.5.6 (the Spark of AWS Glue 5.1 and EMR 7)
 * supports Java 8, 11 and 17; the jobs and tests run on 17, as Glue 5.1 does, so anything older is
 * refused and anything newer, which Spark 3.5 does not support, too.
 */
export function javaProblem(): string | undefined {
  const java = javaCommand();
  const result = spawnSync(java, ['-version'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    return `Java is missing (${java}): the Spark tests need Java 17 on PATH (e.g. apt-get install openjdk-17-jre-headless), or JAVA_HOME set to it`;
  }
  const major = /version "(?:1\.)?(\d+)/.exec(`${result.stderr}${result.stdout}`)?.[1];
  if (major !== undefined && Number(major) !== 17) {
    return `Java ${major} found (${java}): Spark 3.5 supports Java 8, 11 and 17, and the Spark tests run on 17 (as AWS Glue 5.1); set JAVA_HOME to a Java 17`;
  }
  return undefined;
}
