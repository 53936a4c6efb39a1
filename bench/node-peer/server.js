'use strict';
/*
 * The Node.js peer for colibri's HTTP benchmark: what a typical Node.js
 * solution of the same job looks like (Express 4 + better-sqlite3), serving
 * GET /data?limit=N with colibri's semantics from the same SQLite file,
 * opened read-only.
 *
 * Environment:
 *   PORT               port to listen on (127.0.0.1 only)             default 8081
 *   DB                 SQLite file; else COLIBRI_STORE=sqlite:PATH      required
 *   COLIBRI_SCHEMA     BigQuery JSON schema                             ../../schema/flights.json
 *   COLIBRI_EVENT_TIME TIMESTAMP column used for order                 event_time
 *   WORKERS            >1: node:cluster with that many workers          1 (single process)
 */
const path = require('path');
const fs = require('fs');
const cluster = require('cluster');

const workers = parseInt(process.env.WORKERS || '1', 10);
if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('exit', (w, code, sig) => {
    console.error(`worker ${w.process.pid} exited (${sig || code})`);
    process.exit(1);
  });
  process.on('SIGTERM', () => {
    for (const id in cluster.workers) cluster.workers[id].kill('SIGTERM');
    process.exit(0);
  });
  return;
}

const express = require('express');
const Database = require('better-sqlite3');

const schemaPath = process.env.COLIBRI_SCHEMA ||
  path.resolve(__dirname, '..', '..', 'schema', 'flights.json');
const eventTime = process.env.COLIBRI_EVENT_TIME || 'event_time';
let dbPath = process.env.DB;
if (!dbPath && (process.env.COLIBRI_STORE || '').startsWith('sqlite:')) {
  dbPath = process.env.COLIBRI_STORE.slice('sqlite:'.length);
}
if (!dbPath) {
  console.error('set DB=path or COLIBRI_STORE=sqlite:path');
  process.exit(2);
}

// Columns: the schema's, then colibri's metadata columns.
// NUMERIC is stored as its canonical decimal text (served as a JSON string, like colibri);
// records and repeated columns as the JSON text colibri serves, parsed back here.
const TYPES = {
  STRING: 'string', BYTES: 'string', INT64: 'int', INTEGER: 'int',
  FLOAT64: 'float', FLOAT: 'float', NUMERIC: 'string', BIGNUMERIC: 'string',
  BOOL: 'bool', BOOLEAN: 'bool', TIMESTAMP: 'timestamp', DATE: 'date',
  RECORD: 'json', STRUCT: 'json',
};
const columns = JSON.parse(fs.readFileSync(schemaPath, 'utf8')).map((c) => {
  const type = String(c.mode).toUpperCase() === 'REPEATED' ? 'json' : TYPES[String(c.type).toUpperCase()];
  if (!type) throw new Error(`${schemaPath}: column ${c.name}: unsupported type ${c.type}`);
  return { name: c.name, type };
});
columns.push({ name: '_id', type: 'string' }, { name: '_source', type: 'string' },
  { name: '_published_at', type: 'timestamp' }, { name: '_ingested_at', type: 'timestamp' });
const table = path.basename(schemaPath).replace(/\.json$/, '');

// µs since epoch → "YYYY-MM-DDTHH:MM:SS.ffffffZ"
function formatTimestamp(us) {
  const ms = Math.floor(us / 1000);
  const rest = us - ms * 1000;
  return new Date(ms).toISOString().slice(0, 23) + String(rest).padStart(3, '0') + 'Z';
}
// DATE is TEXT 'YYYY-MM-DD'; an INTEGER (days since epoch) is formatted too.
function formatDate(v) {
  return typeof v === 'number' ? new Date(v * 86400000).toISOString().slice(0, 10) : v;
}

function toApi(row) {
  const out = {};
  for (const c of columns) {
    const v = row[c.name];
    if (v === null || v === undefined) { out[c.name] = null; continue; }
    switch (c.type) {
      case 'timestamp': out[c.name] = formatTimestamp(v); break;
      case 'bool': out[c.name] = v !== 0; break;
      case 'date': out[c.name] = formatDate(v); break;
      case 'json': out[c.name] = JSON.parse(v); break;
      default: out[c.name] = v;
    }
  }
  return out;
}

const q = (n) => '"' + n.replace(/"/g, '""') + '"';
const cols = columns.map((c) => q(c.name)).join(', ');
const db = new Database(dbPath, { readonly: true, fileMustExist: true });
const firstPage = db.prepare(
  `SELECT ${cols} FROM ${q(table)} ORDER BY ${q(eventTime)} DESC, _id DESC LIMIT ?`);
const nextPage = db.prepare(
  `SELECT ${cols} FROM ${q(table)} WHERE (${q(eventTime)}, _id) < (?, ?) ` +
  `ORDER BY ${q(eventTime)} DESC, _id DESC LIMIT ?`);

function badRequest(res, message) {
  res.status(400).json({ error: { status: 400, code: 'invalid_parameter', message } });
}

const app = express();

app.get('/healthz', (req, res) => res.json({ status: 'ok' }));

app.get('/data', (req, res) => {
  let limit = 100;
  if (req.query.limit !== undefined) {
    limit = Number(req.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      return badRequest(res, 'limit must be an integer from 1 to 1000');
    }
  }
  let rows;
  if (req.query.cursor !== undefined) {
    let c;
    try {
      c = JSON.parse(Buffer.from(String(req.query.cursor), 'base64url').toString('utf8'));
    } catch (e) { c = null; }
    if (!c || !Number.isInteger(c.t) || typeof c.id !== 'string') {
      return badRequest(res, 'cursor is not valid');
    }
    rows = nextPage.all(c.t, c.id, limit + 1);
  } else {
    rows = firstPage.all(limit + 1);
  }
  let nextCursor = null;
  if (rows.length > limit) {
    rows.length = limit;
    const last = rows[limit - 1];
    nextCursor = Buffer.from(JSON.stringify({ t: last[eventTime], id: last._id }))
      .toString('base64url');
    res.set('Link', `</data?limit=${limit}&cursor=${nextCursor}>; rel="next"`);
  }
  res.json({ data: rows.map(toApi), next_cursor: nextCursor });
});

app.use((req, res) => {
  res.status(404).json({ error: { status: 404, code: 'not_found', message: 'not found' } });
});

const port = parseInt(process.env.PORT || '8081', 10);
const server = app.listen(port, '127.0.0.1', () => {
  console.error(`node-peer ${process.pid} listening on 127.0.0.1:${port}, db ${dbPath}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
