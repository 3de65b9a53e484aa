cube(`Users`, {
  sql_table: `users`,
  measures: {
    count: { type: `count` },
    averageAge: { type: `avg`, sql: `age` },
  },
  dimensions: {
    id: { sql: `id`, type: `number`, primary_key: true },
    name: { sql: `name`, type: `string` },
    city: { sql: `city`, type: `string` },
    age: { sql: `age`, type: `number` },
    isActive: { sql: `is_active`, type: `boolean` },
    createdAt: { sql: `created_at`, type: `time` },
  },
  segments: {
    activeUsers: { sql: `${CUBE}.is_active = true` },
  },
});
