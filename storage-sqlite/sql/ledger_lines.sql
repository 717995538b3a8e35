SELECT tx_type, amount, escrow, fee FROM ledger WHERE account = ?
