-- V001: the operational schema of the retail source ("classic models" shape).
-- Reviewed source of truth: lib/source-db/migrations/bundled.ts embeds this file byte for byte
-- (regenerate it with: npx tsx lib/source-db/migrations/generate.ts).
-- Columns, order, nullability and primary keys match the declarations in
-- glue-scripts/lib/undercurrent_glue/schemas/source/*.json (test/source-db/schema-agreement.test.ts).
-- Every table has updated_at, maintained by MySQL, indexed: incremental extracts read by it.
-- Tables are created parents first so every foreign key points at an existing table.
-- One statement per block, each ending with ';' at the end of a line.

CREATE TABLE IF NOT EXISTS offices (
  office_code VARCHAR(10) NOT NULL,
  city VARCHAR(50) NOT NULL,
  phone VARCHAR(50) NOT NULL,
  address_line1 VARCHAR(50) NOT NULL,
  address_line2 VARCHAR(50) NULL,
  state VARCHAR(50) NULL,
  country VARCHAR(50) NOT NULL,
  postal_code VARCHAR(15) NOT NULL,
  territory VARCHAR(10) NOT NULL,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (office_code),
  KEY idx_offices_updated_at (updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;

CREATE TABLE IF NOT EXISTS employees (
  employee_number INT NOT NULL,
  last_name VARCHAR(50) NOT NULL,
  first_name VARCHAR(50) NOT NULL,
  extension VARCHAR(10) NOT NULL,
  email VARCHAR(100) NOT NULL,
  office_code VARCHAR(10) NOT NULL,
  reports_to INT NULL,
  job_title VARCHAR(50) NOT NULL,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (employee_number),
  KEY idx_employees_updated_at (updated_at),
  CONSTRAINT fk_employees_office_code FOREIGN KEY (office_code) REFERENCES offices (office_code),
  CONSTRAINT fk_employees_reports_to FOREIGN KEY (reports_to) REFERENCES employees (employee_number)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;

CREATE TABLE IF NOT EXISTS customers (
  customer_number INT NOT NULL,
  customer_name VARCHAR(50) NOT NULL,
  contact_last_name VARCHAR(50) NOT NULL,
  contact_first_name VARCHAR(50) NOT NULL,
  phone VARCHAR(50) NOT NULL,
  address_line1 VARCHAR(50) NOT NULL,
  address_line2 VARCHAR(50) NULL,
  city VARCHAR(50) NOT NULL,
  state VARCHAR(50) NULL,
  postal_code VARCHAR(15) NULL,
  country VARCHAR(50) NOT NULL,
  sales_rep_employee_number INT NULL,
  credit_limit DECIMAL(10,2) NULL,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (customer_number),
  KEY idx_customers_updated_at (updated_at),
  CONSTRAINT fk_customers_sales_rep_employee_number FOREIGN KEY (sales_rep_employee_number) REFERENCES employees (employee_number)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;

CREATE TABLE IF NOT EXISTS product_lines (
  product_line VARCHAR(50) NOT NULL,
  text_description VARCHAR(4000) NULL,
  html_description MEDIUMTEXT NULL,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (product_line),
  KEY idx_product_lines_updated_at (updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;

CREATE TABLE IF NOT EXISTS products (
  product_code VARCHAR(15) NOT NULL,
  product_name VARCHAR(70) NOT NULL,
  product_line VARCHAR(50) NOT NULL,
  product_scale VARCHAR(10) NOT NULL,
  product_vendor VARCHAR(50) NOT NULL,
  product_description TEXT NOT NULL,
  quantity_in_stock SMALLINT NOT NULL,
  buy_price DECIMAL(10,2) NOT NULL,
  msrp DECIMAL(10,2) NOT NULL,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (product_code),
  KEY idx_products_updated_at (updated_at),
  CONSTRAINT fk_products_product_line FOREIGN KEY (product_line) REFERENCES product_lines (product_line)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;

CREATE TABLE IF NOT EXISTS orders (
  order_number INT NOT NULL,
  order_date DATE NOT NULL,
  required_date DATE NOT NULL,
  shipped_date DATE NULL,
  status VARCHAR(15) NOT NULL,
  comments TEXT NULL,
  customer_number INT NOT NULL,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (order_number),
  KEY idx_orders_updated_at (updated_at),
  CONSTRAINT fk_orders_customer_number FOREIGN KEY (customer_number) REFERENCES customers (customer_number)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;

CREATE TABLE IF NOT EXISTS order_lines (
  order_number INT NOT NULL,
  product_code VARCHAR(15) NOT NULL,
  quantity_ordered INT NOT NULL,
  price_each DECIMAL(10,2) NOT NULL,
  order_line_number SMALLINT NOT NULL,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (order_number, product_code),
  KEY idx_order_lines_updated_at (updated_at),
  CONSTRAINT fk_order_lines_order_number FOREIGN KEY (order_number) REFERENCES orders (order_number),
  CONSTRAINT fk_order_lines_product_code FOREIGN KEY (product_code) REFERENCES products (product_code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;

CREATE TABLE IF NOT EXISTS payments (
  customer_number INT NOT NULL,
  check_number VARCHAR(50) NOT NULL,
  payment_date DATE NOT NULL,
  amount DECIMAL(10,2) NOT NULL,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  PRIMARY KEY (customer_number, check_number),
  KEY idx_payments_updated_at (updated_at),
  CONSTRAINT fk_payments_customer_number FOREIGN KEY (customer_number) REFERENCES customers (customer_number)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;
