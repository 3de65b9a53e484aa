asyncModule(async () => {
  // Nothing fetched: the definitions come from a resolved promise, as a remote one would.
  const columns = await Promise.resolve([
    ['docPath', 'doc_path', 'string'], ['eventName', 'event_name', 'string'],
    ['userId', 'user_id', 'number'], ['isBot', 'is_bot', 'boolean'],
    ['utcTime', 'utc_time', 'time'],
  ]);
  const dimensions = { eventId: { sql: 'event_id', type: 'number', primaryKey: true, public: true } };
  for (const [name, column, type] of columns) dimensions[name] = { sql: column, type };

  cube(`TrackedEvents`, {
    sql_table: `tracked_events`,
    measures: {
      count: { type: `count` },
      uniqueUsers: { type: `count_distinct`, sql: `user_id` },
      totalDuration: { type: `sum`, sql: `duration_ms` },
    },
    dimensions,
    segments: {
      docsOnly: { sql: `${CUBE}.doc_path LIKE '/docs/%'` },
    },
  });
});
