// The typical Node.js way to ingest a Kafka topic into SQLite: a kafkajs
// consumer in a group that validates each JSON message against the table
// schema and inserts it with better-sqlite3. Peer of colibri in bench/ingest.py.
//
// Environment:
//   BROKERS (127.0.0.1:9092)  TOPIC  GROUP  DB (an SQLite file whose tables
//   colibri created)  SCHEMA (schema/flights.json)
//   MODE  message: eachMessage, one INSERT per message in autocommit (default:
//                  what most code does)
//         batch:   eachBatch, one transaction per fetched batch (the tuned variant)
//
// Same table and semantics as colibri where it matters: the schema's columns
// plus _id ("kafka:topic/partition/offset"), _source, _published_at and
// _ingested_at; INSERT ... ON CONFLICT(_id) DO NOTHING; invalid messages go to
// _dead_letters. Offsets are committed by kafkajs after each batch (at least
// once; colibri stores them in the same transaction as the rows), and nothing
// is published to a dead-letter topic: both are less work than colibri does.
'use strict';

const fs = require('fs');
const path = require('path');
const { Kafka, logLevel } = require('kafkajs');
const Database = require('better-sqlite3');

const brokers = (process.env.BROKERS || '127.0.0.1:9092').split(',');
const topic = process.env.TOPIC;
const group = process.env.GROUP || 'node-ingest';
const mode = process.env.MODE || 'message';
const schemaPath = process.env.SCHEMA || path.join(__dirname, '..', '..', 'schema', 'flights.json');
if (!topic || !process.env.DB) {
  console.error('TOPIC and DB are required');
  process.exit(2);
}

const schema = JSON.parse(fs.readFileSync(schemaPath, 'utf8'));
const db = new Database(process.env.DB);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');

const cols = schema.map((c) => c.name).concat(['_id', '_source', '_published_at', '_ingested_at']);
const insertRow = db.prepare(
  `INSERT INTO flights (${cols.map((c) => `"${c}"`).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})` +
  ' ON CONFLICT("_id") DO NOTHING');
const insertDead = db.prepare(
  'INSERT INTO _dead_letters (id, source, reason, payload, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING');

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

function timestampUs(v) {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.round(v * 1e6);
  if (typeof v !== 'string') return undefined;
  const m = RFC3339.exec(v);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}T${m[2]}${m[4]}`);
  if (Number.isNaN(ms)) return undefined;
  // Date.parse rolls 24:00 and Feb 30 over; a strict parser rejects them
  if (m[4].toUpperCase() === 'Z' && new Date(ms).toISOString().slice(0, 19) !== `${m[1]}T${m[2]}`) return undefined;
  const frac = m[3] ? Math.round(Number(`0${m[3]}`) * 1e6) : 0;
  return ms * 1000 + frac;
}

// One value to its SQLite form, or undefined if it does not fit the column type.
function coerce(type, v) {
  switch (type) {
    case 'STRING': return typeof v === 'string' ? v : undefined;
    case 'INT64':
      if (typeof v === 'number' && Number.isInteger(v)) return v;
      if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
      return undefined;
    case 'FLOAT64':
      if (typeof v === 'number') return v;
      if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
      return undefined;
    case 'NUMERIC':     // exact: kept as the decimal text it came as
      return (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && /^[+-]?\d+(\.\d*)?$/.test(v))
        ? String(v) : undefined;
    case 'RECORD':      // nested values stored as their JSON text, unchecked (the typical code)
      return typeof v === 'object' && !Array.isArray(v) ? JSON.stringify(v) : undefined;
    case 'BOOL': return typeof v === 'boolean' ? (v ? 1 : 0) : undefined;
    case 'TIMESTAMP': return timestampUs(v);
    case 'DATE':
      return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(v)) &&
        new Date(Date.parse(v)).toISOString().slice(0, 10) === v ? v : undefined;
    default: return undefined;
  }
}

// [values] for the row, or a string saying why the message is rejected.
function toRow(buf, id, publishedMs) {
  let o;
  try {
    o = JSON.parse(buf.toString('utf8'));
  } catch (e) {
    return `message is not valid JSON: ${e.message}`;
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return 'message is not a JSON object';
  const vals = new Array(cols.length);
  for (let i = 0; i < schema.length; i++) {
    const c = schema[i];
    const v = o[c.name];
    if (v === undefined || v === null) {
      if (c.mode === 'REQUIRED') return `missing required field '${c.name}'`;
      vals[i] = c.mode === 'REPEATED' ? '[]' : null;
      continue;
    }
    const x = c.mode === 'REPEATED' ? (Array.isArray(v) ? JSON.stringify(v) : undefined) : coerce(c.type, v);
    if (x === undefined) return `field '${c.name}': expected ${c.type}`;
    vals[i] = x;
  }
  const n = schema.length;
  vals[n] = id;
  vals[n + 1] = 'kafka';
  vals[n + 2] = publishedMs ? publishedMs * 1000 : null;
  vals[n + 3] = Date.now() * 1000;
  return vals;
}

function store(partition, message) {
  const id = `kafka:${topic}/${partition}/${message.offset}`;
  const row = toRow(message.value || Buffer.alloc(0), id, Number(message.timestamp));
  if (typeof row === 'string') insertDead.run(id, 'kafka', row, (message.value || '').toString(), Date.now() * 1000);
  else insertRow.run(row);
}

const storeBatch = db.transaction((partition, messages) => {
  for (const m of messages) store(partition, m);
});

async function main() {
  const kafka = new Kafka({ clientId: 'node-ingest', brokers, logLevel: logLevel.ERROR });
  const consumer = kafka.consumer({ groupId: group });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  if (mode === 'batch') {
    await consumer.run({
      eachBatch: async ({ batch }) => storeBatch(batch.partition, batch.messages),
    });
  } else {
    await consumer.run({
      eachMessage: async ({ partition, message }) => store(partition, message),
    });
  }
  const stop = async () => {
    try {
      await consumer.disconnect();
    } finally {
      db.close();
      process.exit(0);
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
