-- One row per customer: its current version (SCD2), lifetime revenue and orders across all its
-- versions, the last order date, its sales rep and office. Revenue and orders count every line
-- that is not cancelled. Athena (Trino) SQL, resolved in the gold database. No contact names,
-- phone or address: the view reads none of the personal columns.
WITH lines AS (
  SELECT v.customer_number, f.order_number, f.amount, d.full_date AS order_date
  FROM fact_order_line AS f
  JOIN dim_customer AS v ON v.customer_key = f.customer_key
  JOIN dim_date AS d ON d.date_key = f.order_date_key
  WHERE f.status <> 'Cancelled'
),
totals AS (
  SELECT
    customer_number,
    sum(amount) AS lifetime_revenue,
    count(DISTINCT order_number) AS orders,
    max(order_date) AS last_order_date
  FROM lines
  GROUP BY customer_number
)
SELECT
  c.customer_number,
  c.customer_name,
  c.city,
  c.country,
  c.credit_limit,
  CAST(coalesce(t.lifetime_revenue, 0) AS decimal(18, 2)) AS lifetime_revenue,
  coalesce(t.orders, 0) AS orders,
  t.last_order_date,
  e.first_name || ' ' || e.last_name AS sales_rep,
  e.office_city AS sales_office
FROM dim_customer AS c
LEFT JOIN totals AS t ON t.customer_number = c.customer_number
LEFT JOIN dim_employee AS e ON e.employee_number = c.sales_rep_employee_number
WHERE c.is_current
