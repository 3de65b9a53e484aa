// Drives a live `duckcube serve` with the real @cubejs-client/core, as a front end would.
// Run by tests/server/test_live.py:
//   DUCKCUBE_API=http://127.0.0.1:PORT/cubejs-api/v1 DUCKCUBE_TOKEN=<jwt>
//   DUCKCUBE_EXPECTED='{"byStatus": [...], "byMonth": [...]}' node client_check.mjs
// Exits non-zero with a message on the first failed check; prints a JSON summary last.
import assert from 'node:assert/strict';
import cube from '@cubejs-client/core';

const apiUrl = process.env.DUCKCUBE_API;
const token = process.env.DUCKCUBE_TOKEN;
const expected = JSON.parse(process.env.DUCKCUBE_EXPECTED);
const summary = {};

const api = cube(token, { apiUrl });

// load + tablePivot: rows as the server sent them (numbers as strings: castNumerics is off)
const byStatus = { measures: ['Orders.count'], dimensions: ['Orders.status'],
                   order: { 'Orders.status': 'asc' } };
const statusSet = await api.load(byStatus);
assert.deepEqual(statusSet.tablePivot(), expected.byStatus);
// chartPivot: one point per status, measure parsed as a number
assert.deepEqual(statusSet.chartPivot(), expected.byStatus.map((row) => ({
  x: row['Orders.status'], xValues: [row['Orders.status']],
  'Orders.count': Number(row['Orders.count']),
})));
assert.deepEqual(statusSet.seriesNames().map((s) => s.key), ['Orders.count']);
summary.tablePivot = statusSet.tablePivot().length;

// a time series: chartPivot fills the months without rows with 0, as the client does
const byMonth = { measures: ['Orders.count'],
                  timeDimensions: [{ dimension: 'Orders.createdAt', granularity: 'month',
                                     dateRange: ['2023-11-01', '2024-04-30'] }] };
const monthSet = await api.load(byMonth);
const counts = Object.fromEntries(expected.byMonth.map(
  (row) => [row['Orders.createdAt.month'], Number(row['Orders.count'])]));
const months = ['2023-11', '2023-12', '2024-01', '2024-02', '2024-03', '2024-04']
  .map((m) => `${m}-01T00:00:00.000`);
assert.deepEqual(monthSet.chartPivot().map((p) => [p.x, p['Orders.count']]),
                 months.map((m) => [m, counts[m] ?? 0]));
summary.chartPivot = monthSet.chartPivot().length;

// castNumerics turns numeric strings into numbers
const numeric = await cube(token, { apiUrl, castNumerics: true }).load(byStatus);
assert.equal(typeof numeric.rawData()[0]['Orders.count'], 'number');

// meta
const meta = await api.meta();
const names = meta.cubes.map((c) => c.name);
for (const name of ['Orders', 'Users', 'Sessions', 'TrackedEvents', 'Slow']) {
  assert.ok(names.includes(name), `meta lists ${name}: ${names}`);
}
assert.equal(meta.resolveMember('Orders.count', 'measures').title, 'Orders Count');
summary.meta = names.length;

// dryRun
const dry = await api.dryRun(byStatus);
assert.equal(dry.queryType, 'regularQuery');
assert.deepEqual(dry.normalizedQueries[0].measures, ['Orders.count']);
assert.deepEqual(dry.queryOrder, [{ 'Orders.status': 'asc' }]);

// sql
const sql = await api.sql(byStatus);
assert.match(sql.sql(), /FROM/i);
assert.ok(Array.isArray(sql.rawQuery().sql[1]));
summary.sql = sql.sql().length;

// Continue wait: the slow query answers "Continue wait" until it is done; the client re-asks
let waits = 0;
const slow = await api.load({ measures: ['Slow.checksum'] }, {
  progressCallback: (progress) => { waits += 1; assert.ok(progress.progressResponse); },
});
assert.ok(waits >= 1, 'the slow query answered "Continue wait" at least once');
summary.continueWaits = waits;
summary.slowChecksum = slow.rawData()[0]['Slow.checksum'];

// auth failure: a token signed with another secret
await assert.rejects(cube('not-a-valid-token', { apiUrl }).load(byStatus), (error) => {
  assert.equal(error.response.error, 'Invalid token');
  assert.equal(error.status, 403);
  return true;
});
await assert.rejects(cube('', { apiUrl }).meta(), (error) => error.status === 403);

// a query error comes back as the client's RequestError with Cube's message
await assert.rejects(api.load({ measures: ['Orders.nope'] }), (error) => {
  assert.equal(error.status, 400);
  assert.match(error.message, /nope/);
  return true;
});

console.log(JSON.stringify({ ok: true, ...summary }));
