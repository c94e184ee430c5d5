import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as main from '../../src/index.js';

// The sensor package is the sensor domain only: its one entry reaches no AWS SDK, and the
// Kinesis and Firehose parts are @tributary/streams' (on its /kinesis and /firehose entries).

const packageDir = fileURLToPath(new URL('../../', import.meta.url));

/** The packages that the modules reachable from `entry` import, statically, by type or dynamically. */
function reachedPackages(entry: string): string[] {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      if (fileName.startsWith('.')) visit(path.resolve(path.dirname(file), fileName.replace(/\.js$/, '.ts')));
      else packages.add(fileName);
    }
  };
  visit(path.join(packageDir, 'src', entry));
  return [...packages].sort();
}

describe('sensors entry points', () => {
  describe('@tributary/sensors', () => {
    it('reaches no AWS SDK and no subpath of @tributary/streams', () => {
      const reached = reachedPackages('index.ts');

      expect(reached).toContain('@tributary/core');
      expect(reached.filter((name) => name.startsWith('@aws-sdk/'))).toEqual([]);
      expect(reached.filter((name) => name.startsWith('@tributary/streams/'))).toEqual([]);
    });

    it('exports no Kinesis or Firehose class', () => {
      const names = Object.keys(main);

      expect(names).toContain('Fleet');
      expect(names.filter((name) => /kinesis|firehose|deliverToLake/i.test(name))).toEqual([]);
    });

    it('exports the sensor defaults for the stream producers and the delivery', () => {
      expect(Object.keys(main)).toEqual(
        expect.arrayContaining(['sensorProducerOptions', 'sensorDeliveryOptions']),
      );
    });
  });

  describe('package.json', () => {
    it('has one entry and no AWS SDK peer: the stream entries moved to @tributary/streams', () => {
      const manifest = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as {
        exports: Record<string, unknown>;
        dependencies: Record<string, string>;
        peerDependencies?: Record<string, string>;
      };

      expect(Object.keys(manifest.exports).sort()).toEqual(['.', './package.json']);
      expect(Object.keys(manifest.peerDependencies ?? {})).toEqual([]);
      expect(manifest.dependencies).toHaveProperty('@tributary/streams');
    });
  });
});
