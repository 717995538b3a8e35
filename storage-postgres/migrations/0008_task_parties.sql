-- The agents besides the poster a command on a task may change (`Task::involved`: the
-- claim's agent, the delivery's agent, the queue's head), kept beside the task so that one
-- statement loads a task and locks its parties' accounts.
ALTER TABLE tasks ADD COLUMN parties TEXT[] NOT NULL DEFAULT '{}';
UPDATE tasks SET parties = array_remove(ARRAY[
        body::jsonb -> 'claim' ->> 'agent',
        body::jsonb -> 'delivery' ->> 'agent',
        body::jsonb -> 'queue' -> 0 ->> 'agent'
    ], NULL)
WHERE body::jsonb -> 'claim' ->> 'agent' IS NOT NULL
   OR body::jsonb -> 'delivery' ->> 'agent' IS NOT NULL
   OR body::jsonb -> 'queue' -> 0 ->> 'agent' IS NOT NULL;
