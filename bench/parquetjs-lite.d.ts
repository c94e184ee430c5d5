// The part of parquetjs-lite 0.8.7 (untyped, CommonJS) that the lake benchmark uses.
declare module 'parquetjs-lite' {
  export interface FieldDefinition {
    type: string;
    optional?: boolean;
    compression?: 'UNCOMPRESSED' | 'SNAPPY' | 'GZIP';
  }
  export class ParquetSchema {
    constructor(fields: Record<string, FieldDefinition>);
  }
  export interface WriterOptions {
    useDataPageV2?: boolean;
    rowGroupSize?: number;
    pageSize?: number;
  }
  export class ParquetWriter {
    static openFile(schema: ParquetSchema, path: string, options?: WriterOptions): Promise<ParquetWriter>;
    appendRow(row: Record<string, unknown>): Promise<void>;
    close(): Promise<void>;
  }
}
