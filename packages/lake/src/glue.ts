// The Glue Data Catalog needs `@aws-sdk/client-glue` (an optional peer dependency): it lives
// behind this subpath so that `@tributary/lake` itself never loads it.

export type { GlueCatalogOptions } from './catalog/glue-catalog.js';
export { fromGlueTable, GlueCatalog, toGlueTableInput } from './catalog/glue-catalog.js';
export type { GlueIcebergCatalogOptions } from './iceberg/glue-catalog.js';
export { GlueIcebergCatalog, icebergGlueColumns } from './iceberg/glue-catalog.js';
