import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { schemasDir, sparkSchemaFiles } from '../../spark/scripts/emit-schemas.js';

function committedFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? committedFiles(join(dir, entry.name))
      : [relative(schemasDir, join(dir, entry.name)).replaceAll('\\', '/')],
  );
}

describe('spark/schemas', () => {
  const emitted = sparkSchemaFiles();

  it('holds exactly the files emit-schemas writes', () => {
    expect(committedFiles(schemasDir).sort()).toEqual(Object.keys(emitted).sort());
  });

  it.each(Object.keys(emitted))(
    '%s is what @tributary/core emits now (run `node --import tsx spark/scripts/emit-schemas.ts`)',
    (name) => {
      const committed: unknown = JSON.parse(readFileSync(join(schemasDir, name), 'utf8'));
      expect(committed).toEqual(JSON.parse(emitted[name] as string));
    },
  );

  it('gives the Spark jobs the sensor record as the TypeScript side types it', () => {
    const sensors = JSON.parse(emitted['sensors.json'] as string) as {
      fields: { name: string; type: string }[];
    };
    expect(sensors.fields.map((f) => [f.name, f.type])).toEqual([
      ['id', 'string'],
      ['sensorId', 'string'],
      ['type', 'string'],
      ['value', 'double'],
      ['unit', 'string'],
      ['timestamp', 'timestamp'],
    ]);
  });
});
