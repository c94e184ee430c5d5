BEGIN;
SELECT column_name FROM information_schema.columns WHERE table_schema = COALESCE($1, current_schema()) AND table_name = $2 ORDER BY ordinal_position;
-- values: ["analytics","readings"]
CREATE SCHEMA IF NOT EXISTS "analytics";
CREATE TABLE IF NOT EXISTS "analytics"."readings" (
  "id" VARCHAR(65535) NOT NULL,
  "dt" DATE NOT NULL,
  "value" DECIMAL(12,3) NOT NULL,
  "at" TIMESTAMPTZ NOT NULL,
  PRIMARY KEY ("id", "dt")
)
DISTSTYLE KEY
DISTKEY ("id")
COMPOUND SORTKEY ("dt");
CREATE TEMP TABLE "tributary_stage" (LIKE "analytics"."readings");
CREATE TEMP TABLE "tributary_stage_files" AS SELECT "id", "value", "at" FROM "analytics"."readings" WHERE 1 = 0;
COPY "tributary_stage_files" FROM 's3://lake-bucket/processed/_redshift/manifests/<uuid>-0000.manifest' IAM_ROLE 'arn:aws:iam::123456789012:role/RedshiftCopy' MANIFEST FORMAT AS PARQUET;
INSERT INTO "tributary_stage" ("id", "value", "at", "dt") SELECT "id", "value", "at", CAST($1 AS DATE) FROM "tributary_stage_files";
-- values: ["2026-11-22"]
DELETE FROM "tributary_stage_files";
COPY "tributary_stage_files" FROM 's3://lake-bucket/processed/_redshift/manifests/<uuid>-0001.manifest' IAM_ROLE 'arn:aws:iam::123456789012:role/RedshiftCopy' MANIFEST FORMAT AS PARQUET;
INSERT INTO "tributary_stage" ("id", "value", "at", "dt") SELECT "id", "value", "at", CAST($1 AS DATE) FROM "tributary_stage_files";
-- values: ["2026-11-23"]
DELETE FROM "tributary_stage_files";
DROP TABLE "tributary_stage_files";
SELECT count(*) AS n FROM "tributary_stage";
INSERT INTO "analytics"."readings" ("id", "dt", "value", "at") SELECT "id", "dt", "value", "at" FROM "tributary_stage";
DROP TABLE "tributary_stage";
COMMIT;
