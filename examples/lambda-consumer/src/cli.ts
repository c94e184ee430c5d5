// pnpm --filter @tributary/example-lambda-consumer start -- --records 20000 --out ./out
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runLambdaConsumer } from './lambda-consumer.js';

// `pnpm … start -- --records 5000` passes the `--` through.
const args = process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === '--'));
const { values } = parseArgs({
  args,
  options: {
    records: { type: 'string', default: '20000' },
    sensors: { type: 'string', default: '5' },
    seed: { type: 'string', default: '42' },
    'batch-size': { type: 'string', default: '100' },
    shards: { type: 'string', default: '2' },
    out: { type: 'string', default: '.tributary/lambda-consumer' },
  },
});

const controller = new AbortController();
process.once('SIGINT', () => controller.abort(new Error('interrupted')));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

try {
  const result = await runLambdaConsumer({
    // pnpm runs scripts in the package's folder; INIT_CWD is where the command was typed.
    out: resolve(process.env.INIT_CWD ?? process.cwd(), values.out),
    records: Number(values.records),
    sensorsPerType: Number(values.sensors),
    seed: Number(values.seed),
    batchSize: Number(values['batch-size']),
    shards: Number(values.shards),
    signal: controller.signal,
  });
  console.log(
    `produced ${fmt(result.produced)} sensor records → ${fmt(result.kinesisRecords)} Kinesis records (KPL aggregated)`,
  );
  console.log(
    `handler: ${fmt(result.invocations)} invocations (${fmt(result.retried)} retried) → ${fmt(result.userRecords)} records de-aggregated → ${fmt(result.delivered)} in ${fmt(result.objects)} raw objects, ${fmt(result.invalid)} to the error prefix`,
  );
  console.log(
    `time: produce ${result.seconds.produce.toFixed(1)} s, consume ${result.seconds.consume.toFixed(1)} s; raw zone: ${result.lake.raw.url}/sensors/`,
  );
} catch (err) {
  console.error(`lambda-consumer failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
