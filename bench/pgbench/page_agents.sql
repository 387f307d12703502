-- Page: the agents list with their tool counts.
SELECT a.name, a.business_function, count(l.tool_id) AS tools
  FROM agents a LEFT JOIN agent_tools l ON l.agent_id = a.id
 GROUP BY a.id, a.name, a.business_function ORDER BY a.name LIMIT 50;
