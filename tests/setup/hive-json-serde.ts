// Global setup: put Hive's JSON SerDe jar in the local Maven repository before the Athena DDL test
// starts Spark with it (tests/spark/athena-ddl-hive.test.ts). Without Maven the other tests still
// run; that test then fails naming the missing jar.
// @ts-expect-error -- a plain ES module script without type declarations
import { ensureHiveJsonSerde } from '../../scripts/hive-json-serde.mjs';

export default function setup(): void {
  try {
    (ensureHiveJsonSerde as () => string)();
  } catch (error) {
    process.stderr.write(`[hive-json-serde] ${(error as Error).message}\n`);
  }
}
