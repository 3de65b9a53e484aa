// duckcube's JavaScript model runtime: what Cube's JS model files call, turning their
// definitions into plain data for the YAML validator (engine/model/js.py drives it).
//
// Every model file runs inside `with (__scope) { ... }`: a name the file does not define itself
// (CUBE, another cube, a member) reads as a *reference*, which prints as `{CUBE}`,
// `{Other.member}` in template literals - the reference form of YAML member SQL.
var __defs = [];
var __files = {};
var __wrappers = {};
var __modules = {};
var __pending = [];
var __stack = [];

function __isRef(v) {
  return typeof v === 'function' && v.__isRef === true;
}

function __ref(path) {
  var text = function () { return '{' + path.join('.') + '}'; };
  var target = function () {};
  return new Proxy(target, {
    get: function (t, prop) {
      if (prop === Symbol.toPrimitive || prop === 'toString' || prop === 'valueOf' ||
          prop === 'toJSON') return text;
      if (prop === '__isRef') return true;
      if (prop === '__path') return path;
      if (typeof prop === 'symbol') return undefined;
      return __ref(path.concat([prop]));
    },
    apply: function (t, self, args) {
      // `{Other.sql()}`, `{FILTER_PARAMS.c.m.filter('col')}` and the like: the call is kept
      // in the reference text for the Python side to judge.
      var shown = args.map(function (a) {
        if (typeof a === 'function' && !__isRef(a)) return 'function';
        return JSON.stringify(typeof a === 'function' ? String(a) : a);
      });
      return '{' + path.join('.') + '(' + shown.join(', ') + ')}';
    },
    has: function () { return false; },
  });
}

var __local = {};
var __scope = new Proxy({}, {
  has: function (t, name) {
    if (typeof name !== 'string') return false;
    if (name in globalThis || name === 'module' || name === 'exports' || name === 'require' ||
        name === '__filename' || name === '__dirname') return false;
    return true;
  },
  get: function (t, name) {
    if (name === Symbol.unscopables) return undefined;
    var vars = __local[__current()];
    if (vars && Object.prototype.hasOwnProperty.call(vars, name)) return vars[name];
    return __ref([name]);
  },
  set: function (t, name, value) {
    var file = __current();
    (__local[file] = __local[file] || {})[name] = value;
    return true;
  },
});

function __current() {
  return __stack.length ? __stack[__stack.length - 1] : null;
}

function __callerLine() {
  var file = __current();
  var lines = String(new Error().stack).split('\n');
  for (var i = 0; i < lines.length; i++) {
    var at = lines[i].lastIndexOf(file + ':');
    if (file && at >= 0) {
      var rest = lines[i].slice(at + file.length + 1);
      return parseInt(rest, 10);
    }
  }
  return null;
}

function __define(kind, name, definition) {
  if (typeof name !== 'string') {
    throw new Error(kind + '() needs a name (a string) as its first argument');
  }
  if (definition === null || typeof definition !== 'object') {
    throw new Error(kind + "('" + name + "') needs an object of definitions");
  }
  __defs.push({kind: kind, name: name, definition: definition, file: __current(),
               line: __callerLine()});
  return __ref([name]);
}

globalThis.cube = function (name, definition) { return __define('cube', name, definition); };
globalThis.view = function (name, definition) { return __define('view', name, definition); };
globalThis.asyncModule = function (body) {
  var file = __current();
  __pending.push(Promise.resolve().then(function () {
    __stack.push(file);
    var done = function () { __stack.pop(); };
    try {
      return Promise.resolve(body()).then(function (v) { done(); return v; },
                                          function (e) { done(); throw e; });
    } catch (e) { done(); throw e; }
  }));
};
globalThis.context = function () {};  // Cube's legacy `context(...)` groups: not used

function __resolve(from, request) {
  var parts = from.split('/');
  parts.pop();
  request.split('/').forEach(function (p) {
    if (p === '..') parts.pop(); else if (p !== '.' && p !== '') parts.push(p);
  });
  var base = parts.join('/');
  var tries = [base, base + '.js', base + '.json', base + '/index.js'];
  for (var i = 0; i < tries.length; i++) {
    if (Object.prototype.hasOwnProperty.call(__files, tries[i])) return tries[i];
  }
  return null;
}

function __run(file) {
  if (Object.prototype.hasOwnProperty.call(__modules, file)) return __modules[file].exports;
  var module = {exports: {}};
  __modules[file] = module;
  if (/\.json$/.test(file)) {
    module.exports = JSON.parse(__files[file]);
    return module.exports;
  }
  var require = function (request) {
    if (request.charAt(0) !== '.') {
      throw new Error("require('" + request + "'): only files of the model directory can be " +
                      'required (no packages)');
    }
    var found = __resolve(file, request);
    if (found === null) throw new Error("require('" + request + "'): no such file");
    return __run(found);
  };
  // Compiled beforehand, one top-level script per file (engine/model/js.py), so V8 names
  // the file in syntax and runtime errors alike.
  var wrapper = __wrappers[file];
  __stack.push(file);
  try {
    wrapper(module, module.exports, require, file);
  } finally {
    __stack.pop();
  }
  return module.exports;
}

function __params(fn) {
  var source = Function.prototype.toString.call(fn);
  var m = source.match(/^\s*(?:async\s*)?(?:function\b[^(]*)?\(([^)]*)\)/) ||
          source.match(/^\s*(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/);
  if (!m) return [];
  return m[1].split(',').map(function (p) { return p.trim(); }).filter(Boolean);
}

function __plain(value) {
  if (__isRef(value)) return {__ref: value.__path};
  if (typeof value === 'function') {
    var args = __params(value).map(function (p) { return __ref([p]); });
    return __plain(value.apply(null, args));
  }
  if (Array.isArray(value)) return value.map(__plain);
  if (value !== null && typeof value === 'object') {
    var out = {};
    Object.keys(value).forEach(function (k) { out[k] = __plain(value[k]); });
    return out;
  }
  return value;
}

function __result() {
  return JSON.stringify(__defs.map(function (d) {
    __stack.push(d.file);
    try {
      return {kind: d.kind, name: d.name, file: d.file, line: d.line,
              definition: __plain(d.definition)};
    } finally {
      __stack.pop();
    }
  }));
}
