-- Revenue by month and product line, the latest months first: what sells, and is it growing?
SELECT year, month, product_line, revenue, orders, units
FROM revenue_by_month_and_product_line
ORDER BY year DESC, month DESC, revenue DESC, product_line
LIMIT 12
