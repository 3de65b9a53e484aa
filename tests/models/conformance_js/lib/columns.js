// A helper required by the model files: plain columns as dimensions.
function columnDimensions(columns) {
  const dimensions = {};
  columns.forEach(([name, column, type]) => {
    dimensions[name] = { sql: column, type };
  });
  return dimensions;
}

module.exports = { columnDimensions };
