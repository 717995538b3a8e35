-- The agents besides the poster a command on a task may change (`Task::involved`: the
-- claim's agent, the delivery's agent, the queue's head), kept beside the task as a JSON
-- array so that one query loads a task and its parties.
ALTER TABLE tasks ADD COLUMN parties TEXT;
UPDATE tasks SET parties = (
    SELECT json_group_array(agent) FROM (
        SELECT json_extract(body, '$.claim.agent') AS agent
        UNION ALL SELECT json_extract(body, '$.delivery.agent')
        UNION ALL SELECT json_extract(body, '$.queue[0].agent')
    ) WHERE agent IS NOT NULL
);
