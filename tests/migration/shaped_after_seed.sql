-- Without the optional knowledge table.
DROP TABLE knowledge;
