SELECT balance FROM accounts WHERE balance LIKE '-%'
