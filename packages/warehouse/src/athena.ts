// Athena needs `@aws-sdk/client-athena` (an optional peer dependency): it lives behind this
// subpath so that `@tributary/warehouse` itself never loads it.
export {};
