BEGIN;
SELECT column_name FROM information_schema.columns WHERE table_schema = COALESCE($1, current_schema()) AND table_name = $2 ORDER BY ordinal_position;
-- values: ["analytics","readings"]
CREATE TEMP TABLE "tributary_stage" (LIKE "analytics"."readings");
COPY "tributary_stage" FROM 's3://lake-bucket/processed/_redshift/manifests/<uuid>-0000.manifest' ACCESS_KEY_ID 'AKIAEXAMPLEEXAMPLE' SECRET_ACCESS_KEY 'wJalrXUtnFEMI-example-secret-not-real' SESSION_TOKEN 'token-example' MANIFEST FORMAT AS JSON 'auto' GZIP TIMEFORMAT 'auto' REGION 'eu-west-1';
SELECT count(*) AS n FROM "tributary_stage";
INSERT INTO "analytics"."readings" ("id", "dt", "value", "at") SELECT "id", "dt", "value", "at" FROM "tributary_stage";
DROP TABLE "tributary_stage";
COMMIT;
