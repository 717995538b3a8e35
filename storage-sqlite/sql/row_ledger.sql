INSERT INTO ledger (account, tx_type, amount, escrow, fee, task_id, memo, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
