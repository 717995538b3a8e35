UPDATE tasks SET status = ?, claimant = ?, due_at = ?, body = ?, parties = ? WHERE id = ?
