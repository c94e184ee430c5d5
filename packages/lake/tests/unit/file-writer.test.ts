import { PassThrough } from 'node:stream';
import { defineSchema, field } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { type FilesPlan, type StagedFile, writeFiles } from '../../src/file-writer.js';
import type { FileStats, RecordWriter } from '../../src/formats/types.js';

const schema = defineSchema({ hour: field.int32() });

/** Files whose close() finishes when the test says so; `events` records the order of things. */
function slowFiles() {
  const events: string[] = [];
  const finish = new Map<string, () => void>();
  const files: StagedFile[] = [];
  const open = (partition: string): StagedFile => {
    let rows = 0;
    const writer: RecordWriter<Record<string, unknown>> = {
      get rows() {
        return rows;
      },
      estimatedBytes: 0,
      async write() {
        rows++;
        events.push(`write ${partition}`);
      },
      close: () =>
        new Promise<FileStats>((resolve, reject) => {
          events.push(`close ${partition}`);
          finish.set(partition, () => resolve({ rows, bytes: rows, columns: [] }));
          if (partition === 'fails') reject(new Error('the encoder failed'));
        }),
    };
    const sink = new PassThrough();
    sink.on('error', () => {});
    const file: StagedFile = {
      stagingKey: partition,
      finalKey: partition,
      writer,
      sink,
      upload: new Promise((resolve, reject) => {
        sink.on('close', () => reject(sink.errored ?? new Error('destroyed')));
        finish.set(`${partition} upload`, () => resolve({ key: partition, size: 0 }));
      }),
    };
    file.upload.catch(() => {});
    files.push(file);
    return file;
  };
  return { events, finish, files, open };
}

function plan(open: (partition: string) => StagedFile, closed: string[]): FilesPlan {
  return {
    schema,
    partitionOf: (record) => `h${record.hour}`,
    open,
    maxRowsPerFile: Number.POSITIVE_INFINITY,
    targetFileBytes: Number.POSITIVE_INFINITY,
    maxOpenFiles: 1,
    refuse: () => {},
    closed: (file) => closed.push(file.finalKey),
  };
}

describe('writeFiles', () => {
  describe('closing files', () => {
    it('keeps writing records while up to two files finish, and reports them in the order closed', async () => {
      // Arrange: one open file at a time, so each new hour closes the previous one.
      const { events, finish, open } = slowFiles();
      const closed: string[] = [];
      const records = [0, 1, 2, 3].map((hour) => ({ hour }));

      // Act
      const writing = writeFiles(records, plan(open, closed));
      await new Promise((resolve) => setTimeout(resolve, 20));
      const beforeAnyFinished = [...events];
      const done = (hour: number) => {
        finish.get(`h${hour}`)?.();
        finish.get(`h${hour} upload`)?.();
      };
      for (const hour of [2, 0, 1]) done(hour);
      await new Promise((resolve) => setTimeout(resolve, 20));
      done(3);
      await writing;

      // Assert: h1 and h2 were written while h0 was still closing; h3 waited for h0.
      expect(beforeAnyFinished).toEqual([
        'write h0',
        'close h0',
        'write h1',
        'close h1',
        'write h2',
        'close h2',
      ]);
      expect(events.at(-2)).toBe('write h3');
      expect(closed).toEqual(['h0', 'h1', 'h2', 'h3']);
    });

    it('fails the write when a file closing in the background fails, and stops every upload', async () => {
      // Arrange
      const { files, open } = slowFiles();
      const records = [{ hour: 0 }, { hour: 1 }, { hour: 2 }, { hour: 3 }];
      const failing = (partition: string) => open(partition === 'h0' ? 'fails' : partition);
      const closed: string[] = [];

      // Act
      const result = await writeFiles(records, {
        ...plan(failing, closed),
        partitionOf: (r) => `h${r.hour}`,
      }).then(
        () => undefined,
        (err: unknown) => err,
      );

      // Assert
      expect(result).toMatchObject({ message: 'the encoder failed' });
      expect(closed).toEqual([]);
      expect(files.map((file) => file.sink.destroyed)).toEqual([true, true, true]);
    });
  });
});
