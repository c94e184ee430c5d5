CREATE SCHEMA IF NOT EXISTS "lake";
CREATE TABLE IF NOT EXISTS "lake"."every_kind" (
  "id" text NOT NULL,
  "active" boolean NOT NULL,
  "rank" integer,
  "volume" bigint NOT NULL,
  "value" double precision NOT NULL,
  "price" numeric(38,18),
  "small" numeric(9,2) NOT NULL,
  "mid" numeric(18,4) NOT NULL,
  "at" timestamptz(3) NOT NULL,
  "day" date NOT NULL,
  "tags" text[],
  "counts" bigint[],
  PRIMARY KEY ("id")
);
COMMENT ON TABLE "lake"."every_kind" IS 'Every field kind tributary maps';
COMMENT ON COLUMN "lake"."every_kind"."id" IS 'deterministic record id';
COMMENT ON COLUMN "lake"."every_kind"."at" IS 'event time, UTC (it''s millisecond precision)';
