BEGIN;
SELECT column_name FROM information_schema.columns WHERE table_schema = COALESCE($1, current_schema()) AND table_name = $2 ORDER BY ordinal_position;
-- values: [null,"readings"]
CREATE TEMP TABLE "tributary_stage" (LIKE "readings");
COPY "tributary_stage" FROM 's3://lake-bucket/processed/readings/part-00000-<uuid>.parquet' IAM_ROLE 'arn:aws:iam::123456789012:role/RedshiftCopy' FORMAT AS PARQUET;
SELECT count(*) AS n FROM "tributary_stage";
INSERT INTO "readings" ("id", "dt", "value", "at") SELECT "id", "dt", "value", "at" FROM "tributary_stage";
DROP TABLE "tributary_stage";
COMMIT;
