import { columnDimensions } from './lib/columns';

cube('Sessions', {
  sqlTable: 'sessions',
  measures: {
    count: { type: 'count' },
    averageDuration: { type: 'avg', sql: `date_diff('second', ${CUBE}.start_at, ${CUBE}.end_at)` },
    totalPageViews: { type: 'sum', sql: 'page_views' },
  },
  dimensions: {
    sessionId: { sql: 'session_id', type: 'number', primaryKey: true },
    ...columnDimensions([['userId', 'user_id', 'number'], ['startAt', 'start_at', 'time'],
                         ['endAt', 'end_at', 'time']]),
  },
});
