-- Revenue, orders and units by order month and product line, from the gold star schema: every
-- line that is not cancelled. Athena (Trino) SQL, resolved in the gold database. A line whose
-- product is not in dim_product still counts, under '(unknown)', so the view's revenue always
-- equals the fact's.
SELECT
  d.year,
  d.month,
  coalesce(p.product_line, '(unknown)') AS product_line,
  CAST(sum(f.amount) AS decimal(18, 2)) AS revenue,
  count(DISTINCT f.order_number) AS orders,
  sum(f.quantity_ordered) AS units
FROM fact_order_line AS f
JOIN dim_date AS d ON d.date_key = f.order_date_key
LEFT JOIN dim_product AS p ON p.product_key = f.product_key
WHERE f.status <> 'Cancelled'
GROUP BY d.year, d.month, coalesce(p.product_line, '(unknown)')
