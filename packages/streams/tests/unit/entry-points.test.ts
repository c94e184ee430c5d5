import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as firehose from '../../src/firehose.js';
import * as main from '../../src/index.js';
import * as kinesis from '../../src/kinesis.js';

// Each optional AWS peer is needed only by the entry that uses it, in the JavaScript and in the
// declarations: the modules an entry reaches (type-only imports included, since they end up in
// its .d.ts) name no other peer. tsup builds each entry from exactly these modules.

const srcDir = fileURLToPath(new URL('../../src/', import.meta.url));
const peers = ['@aws-sdk/client-kinesis', '@aws-sdk/client-firehose'];

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
  visit(path.join(srcDir, entry));
  return [...packages].sort();
}

describe('streams entry points', () => {
  describe('@tributary/streams', () => {
    it('reaches no optional AWS peer', () => {
      const reached = reachedPackages('index.ts');

      expect(reached).toContain('@tributary/core');
      expect(reached.filter((name) => peers.includes(name))).toEqual([]);
    });

    it('exports no Kinesis or Firehose class', () => {
      const names = Object.keys(main);

      expect(names).toContain('aggregate');
      expect(names).toContain('LakeCheckpointStore');
      expect(names.filter((name) => /kinesis|firehose|deliver/i.test(name))).toEqual([]);
    });

    it('reaches no other tributary package than core and lake: nothing of the sensor domain', () => {
      const reached = ['index.ts', 'kinesis.ts', 'firehose.ts'].flatMap(reachedPackages);

      expect([...new Set(reached.filter((name) => name.startsWith('@tributary/')))].sort()).toEqual([
        '@tributary/core',
        '@tributary/lake',
      ]);
    });
  });

  describe('@tributary/streams/kinesis', () => {
    it('reaches the Kinesis client and not the Firehose client', () => {
      const reached = reachedPackages('kinesis.ts');

      expect(reached.filter((name) => peers.includes(name))).toEqual(['@aws-sdk/client-kinesis']);
    });

    it('exports the producer, the source and the delivery into the lake', () => {
      expect(Object.keys(kinesis).sort()).toEqual(
        [
          'DeliverToLakeError',
          'KinesisProducer',
          'KinesisSource',
          'KinesisSourceError',
          'deliverToLake',
        ].sort(),
      );
    });
  });

  describe('@tributary/streams/firehose', () => {
    it('reaches the Firehose client and not the Kinesis client', () => {
      const reached = reachedPackages('firehose.ts');

      expect(reached.filter((name) => peers.includes(name))).toEqual(['@aws-sdk/client-firehose']);
    });

    it('exports the producer and the delivery stream setup', () => {
      expect(Object.keys(firehose).sort()).toEqual(
        ['FirehoseProducer', 'FirehoseSetupError', 'createDeliveryStreamInput'].sort(),
      );
    });
  });
});
