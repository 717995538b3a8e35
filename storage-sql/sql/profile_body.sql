SELECT body FROM profiles WHERE identity = $1
