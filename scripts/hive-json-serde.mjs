#!/usr/bin/env node
// Puts Hive's JSON SerDe (org.apache.hive.hcatalog.data.JsonSerDe, one of the two JSON SerDes
// Athena reads; hive-hcatalog-core 2.3.9, the Hive version inside Spark 3.5.6) in the local Maven
// repository when it is missing, checks it against its pinned SHA-1, and prints the jar's path.
// Used by the test setup; tests only look the jar up (hiveJsonSerdeJar), so nothing downloads
// while a test runs. The OpenX SerDe, which the lake's DDL names, is not on Maven Central.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { localRepository } from './iceberg-runtime.mjs';

const group = 'org.apache.hive.hcatalog';
const artifact = 'hive-hcatalog-core';
const version = '2.3.9';
/** The Maven coordinates, as `mvn dependency:get -Dartifact=` takes them. */
export const hiveJsonSerdeArtifact = `${group}:${artifact}:${version}`;
// Maven Central's hive-hcatalog-core-2.3.9.jar.sha1 (265,922 bytes).
const SHA1 = 'c02725b6238e102205dd6522840360cbd4942207';

/** Where the jar is, or would be, in the local Maven repository. */
export function hiveJsonSerdePath() {
  return join(localRepository(), ...group.split('.'), artifact, version, `${artifact}-${version}.jar`);
}

const sha1Of = (path) => createHash('sha1').update(readFileSync(path)).digest('hex');

/** The jar's path when it is there and intact, else undefined. Never downloads: this is what the tests call. */
export function hiveJsonSerdeJar() {
  const path = hiveJsonSerdePath();
  return existsSync(path) && sha1Of(path) === SHA1 ? path : undefined;
}

/** Returns the jar's path, fetching it with Maven first when it is missing or damaged. */
export function ensureHiveJsonSerde() {
  const present = hiveJsonSerdeJar();
  if (present) return present;
  rmSync(hiveJsonSerdePath(), { force: true });
  const args = [
    '-B',
    '-q',
    'dependency:get',
    `-Dartifact=${hiveJsonSerdeArtifact}`,
    // Only the SerDe's classes: Spark brings the Hive 2.3.9 it runs on.
    '-Dtransitive=false',
    `-Dmaven.repo.local=${localRepository()}`,
  ];
  const fetch = spawnSync('mvn', args, { encoding: 'utf8' });
  if (fetch.error || fetch.status !== 0) {
    throw new Error(
      `mvn ${args.join(' ')} failed (${fetch.error?.message ?? `exit ${fetch.status}`}); install Maven or put the jar at ${hiveJsonSerdePath()}:\n${`${fetch.stdout}${fetch.stderr}`.slice(-4000)}`,
    );
  }
  const path = hiveJsonSerdePath();
  const actual = existsSync(path) ? sha1Of(path) : 'no file';
  if (actual !== SHA1) {
    throw new Error(
      `${path}: SHA-1 ${actual}, expected ${SHA1} (${hiveJsonSerdeArtifact} from Maven Central)`,
    );
  }
  return path;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${ensureHiveJsonSerde()}\n`);
}
