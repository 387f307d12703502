-- Page: tools of a category, through the compat column tools.category.
SELECT name, category, description FROM tools WHERE category = 'Regulatory Intelligence' ORDER BY name;
