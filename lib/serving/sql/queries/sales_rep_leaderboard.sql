-- Sales representatives by revenue, with their orders, customers and office.
SELECT sales_rep, office_city, office_country, revenue, orders, customers
FROM sales_rep_performance
ORDER BY revenue DESC, employee_number
