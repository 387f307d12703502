-- Page: the agents list with their tool counts. The join names tenant_id too: an agent's tool
-- links are its own tenant's rows, and on Citus a join between distributed tables must pair
-- their distribution columns.
SELECT a.name, a.business_function, count(l.tool_id) AS tools
  FROM agents a LEFT JOIN agent_tools l ON l.tenant_id = a.tenant_id AND l.agent_id = a.id
 GROUP BY a.id, a.name, a.business_function ORDER BY a.name LIMIT 50;
