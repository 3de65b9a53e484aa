const { columnDimensions } = require('./lib/columns');
const aggregates = require('./lib/aggregates.json');

const measures = { count: { type: `count` } };
for (const [name, type] of Object.entries(aggregates)) {
  measures[name] = { type, sql: `amount` };
}

cube(`Orders`, {
  sql_table: `orders`,

  joins: {
    Users: {
      relationship: `many_to_one`,
      sql: `${CUBE}.user_id = ${Users}.id`,
    },
  },

  measures: {
    ...measures,
    totalQuantity: { type: `sum`, sql: `quantity` },
    paidCount: {
      type: `count`,
      filters: [{ sql: (CUBE) => `${CUBE}.is_paid = true` }],
    },
  },

  dimensions: {
    id: { sql: `id`, type: `number`, primaryKey: true, public: true },
    ...columnDimensions([
      ['status', 'status', 'string'],
      ['amount', 'amount', 'number'],
      ['quantity', 'quantity', 'number'],
      ['isPaid', 'is_paid', 'boolean'],
      ['createdAt', 'created_at', 'time'],
    ]),
  },

  segments: {
    completed: { sql: `${CUBE}.status = 'completed'` },
  },
});
