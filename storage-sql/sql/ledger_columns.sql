-- A ledger line with its money as exact decimal text and its task id as text.
SELECT seq, account, tx_type, CAST(amount AS TEXT) AS amount, CAST(escrow AS TEXT) AS escrow,
       CAST(fee AS TEXT) AS fee, CAST(task_id AS TEXT) AS task_id, memo, created_at
FROM ledger
