// Produces records with kafkajs for the example broker's end-to-end test.
//
// Usage: node kafkajs_produce.js BROKER TOPIC CODEC ACKS COUNT
//
// CODEC is none, gzip, snappy, lz4 or zstd; ACKS is -1, 0 or 1. Record i
// has key "<topic>-key-<i>", a JSON value and two headers; the Go test
// rebuilds the same records and compares them with what it consumes.
// Modules are found through NODE_PATH (see scripts/install-kafkajs.sh).
'use strict'

const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs')
const SnappyCodec = require('kafkajs-snappy')
const LZ4Codec = require('kafkajs-lz4')
const ZstdCodec = require('@kafkajs/zstd')

CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec
CompressionCodecs[CompressionTypes.LZ4] = new LZ4Codec().codec
CompressionCodecs[CompressionTypes.ZSTD] = ZstdCodec()

const [broker, topic, codec, acks, count] = process.argv.slice(2)
const compression = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
}[codec]
if (compression === undefined) {
  console.error(`unknown codec ${codec}`)
  process.exit(2)
}

function record (i) {
  return {
    key: `${topic}-key-${String(i).padStart(4, '0')}`,
    value: JSON.stringify({ n: i, source: topic, text: 'chronik stores this '.repeat(8) }),
    headers: { trace: `t-${i}`, client: 'kafkajs' },
  }
}

async function main () {
  const kafka = new Kafka({ clientId: 'chronik-test', brokers: [broker], logLevel: logLevel.ERROR, retry: { retries: 3 } })
  const producer = kafka.producer({ allowAutoTopicCreation: true })
  await producer.connect()
  try {
    const messages = []
    for (let i = 0; i < Number(count); i++) messages.push(record(i))
    // Two sends, so that the topic holds more than one batch.
    const half = Math.floor(messages.length / 2)
    for (const part of [messages.slice(0, half), messages.slice(half)]) {
      await producer.send({ topic, acks: Number(acks), compression, messages: part })
    }
  } finally {
    await producer.disconnect()
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
