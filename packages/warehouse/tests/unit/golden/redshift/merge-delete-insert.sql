BEGIN;
SELECT column_name FROM information_schema.columns WHERE table_schema = COALESCE($1, current_schema()) AND table_name = $2 ORDER BY ordinal_position;
-- values: [null,"readings"]
CREATE TEMP TABLE "tributary_stage" (LIKE "readings");
CREATE TEMP TABLE "tributary_stage_files" AS SELECT "id", "value", "at" FROM "readings" WHERE 1 = 0;
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
SELECT count(*) AS n FROM "tributary_stage" WHERE "id" IS NULL OR "dt" IS NULL;
SELECT CAST("id" AS VARCHAR) AS key_0, CAST("dt" AS VARCHAR) AS key_1, count(*) AS n FROM "tributary_stage" GROUP BY "id", "dt" HAVING count(*) > 1 ORDER BY "id", "dt" LIMIT 5;
SELECT (SELECT count(*) FROM "readings" t JOIN "tributary_stage" s ON t."id" = s."id" AND t."dt" = s."dt") AS updated, (SELECT count(*) FROM "tributary_stage" s JOIN (SELECT DISTINCT "id", "dt" FROM "readings") t ON t."id" = s."id" AND t."dt" = s."dt") AS matched;
DELETE FROM "readings" USING "tributary_stage" AS s WHERE "readings"."id" = s."id" AND "readings"."dt" = s."dt";
INSERT INTO "readings" ("id", "dt", "value", "at") SELECT "id", "dt", "value", "at" FROM "tributary_stage";
DROP TABLE "tributary_stage";
COMMIT;
