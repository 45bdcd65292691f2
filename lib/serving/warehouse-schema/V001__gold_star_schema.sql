-- V001: the gold star schema of the Undercurrent warehouse (Amazon Redshift).
--
-- Versioned DDL: files run once each, in version order (V001, V002, ...); a released file
-- is never edited, a change is a new version. The grain, columns, types and nullability
-- follow the gold zone's declarations (glue-scripts/lib/undercurrent_glue/schemas/gold/;
-- test/warehouse/schema.test.ts holds the type mapping), loaded with COPY or read through
-- Spectrum with the warehouse's COPY role.
--
-- Distribution and sort keys:
-- * fact_order_line is the only large table. DISTKEY(customer_key) co-locates each
--   customer's order lines with that customer's dim_customer rows for the most common join
--   (revenue by customer, segment, country) and spreads evenly (many customers, none
--   dominant). SORTKEY(order_date_key): almost every query filters a date range, so zone
--   maps skip the blocks outside it, and new orders append in sort order.
-- * dim_customer is type 2 and grows with every change: DISTKEY(customer_key) matches the
--   fact; SORTKEY(customer_number, valid_from) serves the "current row of a customer" and
--   "row valid at a date" lookups of the load.
-- * dim_product, dim_employee and dim_date are small (hundreds to a few thousand rows):
--   DISTSTYLE ALL copies them to every node, so joins to them never redistribute; each is
--   sorted by its surrogate key, the join column.

CREATE SCHEMA IF NOT EXISTS gold;

-- One row per calendar day; date_key is yyyymmdd.
CREATE TABLE IF NOT EXISTS gold.dim_date (
  date_key      INTEGER     NOT NULL ENCODE az64,
  full_date     DATE        NOT NULL ENCODE az64,
  year          INTEGER     NOT NULL ENCODE az64,
  quarter       INTEGER     NOT NULL ENCODE az64,
  month         INTEGER     NOT NULL ENCODE az64,
  month_name    VARCHAR(9)  NOT NULL ENCODE lzo,
  day_of_month  INTEGER     NOT NULL ENCODE az64,
  day_of_week   INTEGER     NOT NULL ENCODE az64,
  day_name      VARCHAR(9)  NOT NULL ENCODE lzo,
  is_weekend    BOOLEAN     NOT NULL,
  PRIMARY KEY (date_key)
)
DISTSTYLE ALL
SORTKEY (date_key);

-- Products, type 1 (overwritten on change).
CREATE TABLE IF NOT EXISTS gold.dim_product (
  product_key               BIGINT         NOT NULL ENCODE az64,
  product_code              VARCHAR(15)    NOT NULL ENCODE lzo,
  product_name              VARCHAR(70)    NOT NULL ENCODE lzo,
  product_line              VARCHAR(50)    NOT NULL ENCODE lzo,
  product_line_description  VARCHAR(4000)           ENCODE lzo,
  product_scale             VARCHAR(10)    NOT NULL ENCODE lzo,
  product_vendor            VARCHAR(50)    NOT NULL ENCODE lzo,
  buy_price                 DECIMAL(10,2)  NOT NULL ENCODE az64,
  msrp                      DECIMAL(10,2)  NOT NULL ENCODE az64,
  PRIMARY KEY (product_key)
)
DISTSTYLE ALL
SORTKEY (product_key);

-- Sales representatives with the attributes of their office (denormalized: offices are few).
CREATE TABLE IF NOT EXISTS gold.dim_employee (
  employee_key      BIGINT        NOT NULL ENCODE az64,
  employee_number   INTEGER       NOT NULL ENCODE az64,
  last_name         VARCHAR(50)   NOT NULL ENCODE lzo,
  first_name        VARCHAR(50)   NOT NULL ENCODE lzo,
  job_title         VARCHAR(50)   NOT NULL ENCODE lzo,
  reports_to        INTEGER                ENCODE az64,
  office_code       VARCHAR(10)   NOT NULL ENCODE lzo,
  office_city       VARCHAR(50)   NOT NULL ENCODE lzo,
  office_state      VARCHAR(50)            ENCODE lzo,
  office_country    VARCHAR(50)   NOT NULL ENCODE lzo,
  office_territory  VARCHAR(10)   NOT NULL ENCODE lzo,
  PRIMARY KEY (employee_key)
)
DISTSTYLE ALL
SORTKEY (employee_key);

-- Customers, type 2: a new row (new customer_key) whenever a tracked attribute changes;
-- each row is valid in [valid_from, valid_to); valid_to is null and is_current true on the
-- current row of each customer_number.
CREATE TABLE IF NOT EXISTS gold.dim_customer (
  customer_key               BIGINT         NOT NULL ENCODE az64,
  customer_number            INTEGER        NOT NULL ENCODE az64,
  customer_name              VARCHAR(50)    NOT NULL ENCODE lzo,
  contact_last_name          VARCHAR(50)    NOT NULL ENCODE lzo,
  contact_first_name         VARCHAR(50)    NOT NULL ENCODE lzo,
  phone                      VARCHAR(50)    NOT NULL ENCODE lzo,
  address_line1              VARCHAR(50)    NOT NULL ENCODE lzo,
  address_line2              VARCHAR(50)             ENCODE lzo,
  city                       VARCHAR(50)    NOT NULL ENCODE lzo,
  state                      VARCHAR(50)             ENCODE lzo,
  postal_code                VARCHAR(15)             ENCODE lzo,
  country                    VARCHAR(50)    NOT NULL ENCODE lzo,
  sales_rep_employee_number  INTEGER                 ENCODE az64,
  credit_limit               DECIMAL(10,2)           ENCODE az64,
  valid_from                 TIMESTAMP      NOT NULL ENCODE az64,
  valid_to                   TIMESTAMP               ENCODE az64,
  is_current                 BOOLEAN        NOT NULL,
  PRIMARY KEY (customer_key)
)
DISTKEY (customer_key)
SORTKEY (customer_number, valid_from);

-- Grain: one order line (order_number, order_line_number). The customer, employee and
-- product keys are the dimension rows valid at the order date.
CREATE TABLE IF NOT EXISTS gold.fact_order_line (
  order_number       INTEGER        NOT NULL ENCODE az64,
  order_line_number  INTEGER        NOT NULL ENCODE az64,
  customer_key       BIGINT         NOT NULL ENCODE az64,
  product_key        BIGINT         NOT NULL ENCODE az64,
  employee_key       BIGINT                  ENCODE az64,
  order_date_key     INTEGER        NOT NULL ENCODE az64,
  required_date_key  INTEGER        NOT NULL ENCODE az64,
  shipped_date_key   INTEGER                 ENCODE az64,
  quantity_ordered   INTEGER        NOT NULL ENCODE az64,
  price_each         DECIMAL(10,2)  NOT NULL ENCODE az64,
  amount             DECIMAL(12,2)  NOT NULL ENCODE az64,
  status             VARCHAR(15)    NOT NULL ENCODE lzo,
  order_date         DATE           NOT NULL ENCODE az64,
  PRIMARY KEY (order_number, order_line_number),
  FOREIGN KEY (product_key) REFERENCES gold.dim_product (product_key),
  FOREIGN KEY (customer_key) REFERENCES gold.dim_customer (customer_key),
  FOREIGN KEY (employee_key) REFERENCES gold.dim_employee (employee_key),
  FOREIGN KEY (order_date_key) REFERENCES gold.dim_date (date_key),
  FOREIGN KEY (required_date_key) REFERENCES gold.dim_date (date_key),
  FOREIGN KEY (shipped_date_key) REFERENCES gold.dim_date (date_key)
)
DISTKEY (customer_key)
SORTKEY (order_date_key);
