SELECT COALESCE(SUM(amount), 0)::text AS balance, COALESCE(SUM(escrow), 0)::text AS escrowed,
COALESCE(SUM(fee), 0)::text AS fees, COUNT(*) AS entries,
COALESCE(SUM(amount) FILTER (WHERE tx_type = 'release' AND amount > 0), 0)::text AS earned,
COALESCE(-SUM(amount) FILTER (WHERE tx_type = 'release' AND amount <= 0), 0)::text AS spent,
COALESCE(SUM(amount) FILTER (WHERE tx_type = 'grant' AND amount > 0), 0)::text AS granted
FROM ledger WHERE account = $1
