// Produces records with kafkajs's idempotent producer for the example
// broker's test through a connection-cutting proxy
// (idempotence_clients_test.go).
//
// Usage: node kafkajs_idempotent.js BROKER TOPIC COUNT PARTITIONS
//
// Record i has key "idem-<i, 5 digits>", the JSON value the Go test
// rebuilds, and goes to partition i mod PARTITIONS. Records are sent in
// sends of 50, one send at a time, gzip, acks=all. For each send one JSON
// line goes to stdout: {"first","count","results":[{partition,baseOffset,
// errorCode}]} or, when kafkajs gives up, {"first","count","error"}.
// kafkajs's own log goes to stderr at the level named by
// KAFKAJS_LOG_LEVEL (ERROR, WARN, INFO or DEBUG; default none).
// Modules are found through NODE_PATH (see scripts/install-kafkajs.sh).
'use strict'

const { Kafka, CompressionTypes, logLevel } = require('kafkajs')

const [broker, topic, count, partitions] = process.argv.slice(2)
const perSend = 50

function record (i) {
  return {
    key: `idem-${String(i).padStart(5, '0')}`,
    value: JSON.stringify({ client: 'kafkajs', seq: i, text: 'exactly once '.repeat(6) }),
    partition: i % Number(partitions),
  }
}

async function main () {
  const kafka = new Kafka({
    clientId: 'chronik-idempotence-test',
    brokers: [broker],
    logLevel: logLevel[process.env.KAFKAJS_LOG_LEVEL || 'NOTHING'],
    logCreator: () => ({ namespace, level, label, log }) => {
      const { message, ...extra } = log
      console.error(`${label} [${namespace}] ${message} ${JSON.stringify(extra)}`)
    },
    connectionTimeout: 3000,
    requestTimeout: 30000,
    retry: { initialRetryTime: 20, maxRetryTime: 200, retries: 1000 },
  })
  // idempotent: retries default to Number.MAX_SAFE_INTEGER; one request
  // in flight per connection.
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    retry: { initialRetryTime: 20, maxRetryTime: 200, retries: Number.MAX_SAFE_INTEGER },
  })
  await producer.connect()
  try {
    for (let first = 0; first < Number(count); first += perSend) {
      const n = Math.min(perSend, Number(count) - first)
      const messages = []
      for (let i = first; i < first + n; i++) messages.push(record(i))
      try {
        const results = await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages })
        const out = results.map(r => ({ partition: r.partition, baseOffset: r.baseOffset, errorCode: r.errorCode }))
        console.log(JSON.stringify({ first, count: n, results: out }))
      } catch (err) {
        console.log(JSON.stringify({ first, count: n, error: String(err && err.message ? err.message : err) }))
      }
    }
  } finally {
    await producer.disconnect()
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
