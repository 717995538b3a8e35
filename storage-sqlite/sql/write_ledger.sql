INSERT INTO ledger (account, tx_type, amount, escrow, fee, task_id, memo, created_at)
SELECT j.value->>'account', j.value->>'tx_type', j.value->>'amount', j.value->>'escrow',
j.value->>'fee', j.value->>'task_id', j.value->>'memo', j.value->>'created_at'
FROM json_each(?) j ORDER BY j.key;
