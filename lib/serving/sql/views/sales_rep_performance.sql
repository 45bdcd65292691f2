-- One row per employee with sales: revenue, orders and customers served (lines that are not
-- cancelled), with their office. Lines without a sales rep are not here (the revenue view counts
-- them). Athena (Trino) SQL, resolved in the gold database.
SELECT
  e.employee_number,
  e.first_name || ' ' || e.last_name AS sales_rep,
  e.job_title,
  e.office_city,
  e.office_country,
  CAST(sum(f.amount) AS decimal(18, 2)) AS revenue,
  count(DISTINCT f.order_number) AS orders,
  count(DISTINCT c.customer_number) AS customers
FROM fact_order_line AS f
JOIN dim_employee AS e ON e.employee_key = f.employee_key
JOIN dim_customer AS c ON c.customer_key = f.customer_key
WHERE f.status <> 'Cancelled'
GROUP BY e.employee_number, e.first_name, e.last_name, e.job_title, e.office_city, e.office_country
