DELETE FROM profile_capabilities WHERE identity = $1
