SELECT body FROM reputations WHERE identity = $1
