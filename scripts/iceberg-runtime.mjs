#!/usr/bin/env node
// Puts the Iceberg Spark runtime that AWS Glue 5.1 ships (Iceberg 1.10.0 for Spark 3.5, Scala 2.12)
// in the local Maven repository when it is missing, checks it against its pinned SHA-1, and prints
// the jar's path. Used by the test setup and by .ci/run; tests only look the jar up
// (icebergRuntimeJar), so nothing downloads while a test runs. Safe to run often.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ICEBERG_VERSION = '1.10.0';
const group = 'org.apache.iceberg';
const artifact = 'iceberg-spark-runtime-3.5_2.12';
/** The Maven coordinates, as `mvn dependency:get -Dartifact=` takes them. */
export const icebergRuntimeArtifact = `${group}:${artifact}:${ICEBERG_VERSION}`;
// Maven Central's iceberg-spark-runtime-3.5_2.12-1.10.0.jar.sha1 (47,130,096 bytes).
const SHA1 = 'e9e56f219ee65d302a96d598470365733b824018';

/** The local Maven repository: MAVEN_REPO_LOCAL when set, else Maven's default ~/.m2/repository. */
export function localRepository() {
  return process.env.MAVEN_REPO_LOCAL || join(homedir(), '.m2', 'repository');
}

/** Where the jar is, or would be, in the local Maven repository. */
export function icebergRuntimePath() {
  return join(
    localRepository(),
    ...group.split('.'),
    artifact,
    ICEBERG_VERSION,
    `${artifact}-${ICEBERG_VERSION}.jar`,
  );
}

function sha1Of(path) {
  return createHash('sha1').update(readFileSync(path)).digest('hex');
}

/**
 * The jar's path when it is there and intact, else undefined. Never downloads: this is what the
 * tests call.
 */
export function icebergRuntimeJar() {
  const path = icebergRuntimePath();
  return existsSync(path) && sha1Of(path) === SHA1 ? path : undefined;
}

/** Returns the jar's path, fetching it with Maven first when it is missing or damaged. */
export function ensureIcebergRuntime({ quiet = false } = {}) {
  const present = icebergRuntimeJar();
  if (present) return present;
  const log = quiet ? () => {} : (line) => process.stderr.write(`[iceberg-runtime] ${line}\n`);
  const mvn = spawnSync('mvn', ['--version'], { encoding: 'utf8' });
  if (mvn.error || mvn.status !== 0) {
    throw new Error(
      `Maven (mvn) is needed once to fetch ${icebergRuntimeArtifact} for the Spark-with-Iceberg tests: ` +
        'install it (e.g. apt-get install maven), or put the jar at ' +
        icebergRuntimePath(),
    );
  }
  // A damaged jar (a cut download) would stay: Maven fetches only what is missing.
  rmSync(icebergRuntimePath(), { force: true });
  log(`fetching ${icebergRuntimeArtifact} into ${localRepository()}`);
  const args = [
    '-B',
    '-q',
    'dependency:get',
    `-Dartifact=${icebergRuntimeArtifact}`,
    // The runtime jar is shaded: it needs nothing else on Spark's classpath.
    '-Dtransitive=false',
    `-Dmaven.repo.local=${localRepository()}`,
  ];
  // Maven's output only when it fails (with -q it still prints colour codes on success).
  const fetch = spawnSync('mvn', args, { encoding: 'utf8' });
  if (fetch.error || fetch.status !== 0) {
    throw new Error(
      `mvn ${args.join(' ')} failed (${fetch.error?.message ?? `exit ${fetch.status}`}):\n${`${fetch.stdout}${fetch.stderr}`.slice(-4000)}`,
    );
  }
  const path = icebergRuntimePath();
  const actual = existsSync(path) ? sha1Of(path) : 'no file';
  if (actual !== SHA1) {
    throw new Error(
      `${path}: SHA-1 ${actual}, expected ${SHA1} (${icebergRuntimeArtifact} from Maven Central)`,
    );
  }
  return path;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${ensureIcebergRuntime()}\n`);
}
