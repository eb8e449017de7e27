// Consumes with kafkajs consumer groups for the example broker's tests.
//
// Usage: node kafkajs_consume.js BROKER TOPIC GROUP MEMBERS COUNT
//
// Starts MEMBERS consumers in GROUP (read_committed, kafkajs' default),
// subscribed to TOPIC from the beginning when the group has no committed
// offset. Once the consumers together received COUNT messages, it waits a
// second for any extra message, disconnects them (offsets are committed
// after every batch) and prints one JSON object: {"messages": [{member,
// partition, offset, key}], "members": number of distinct members that
// received messages}. It fails if COUNT messages do not arrive within 60 s.
'use strict'

const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs')
const SnappyCodec = require('kafkajs-snappy')
const LZ4Codec = require('kafkajs-lz4')
const ZstdCodec = require('@kafkajs/zstd')

CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec
CompressionCodecs[CompressionTypes.LZ4] = new LZ4Codec().codec
CompressionCodecs[CompressionTypes.ZSTD] = ZstdCodec()

const [broker, topic, groupId, members, count] = process.argv.slice(2)

async function main () {
  const kafka = new Kafka({ clientId: 'chronik-test', brokers: [broker], logLevel: logLevel.ERROR })
  const messages = []
  let resolveAll
  const all = new Promise((resolve) => { resolveAll = resolve })
  const consumers = []
  for (let m = 0; m < Number(members); m++) {
    const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, rebalanceTimeout: 10000, heartbeatInterval: 500, maxWaitTimeInMs: 250 })
    consumers.push(consumer)
  }
  await Promise.all(consumers.map(async (consumer, m) => {
    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        messages.push({ member: m, partition, offset: message.offset, key: message.key === null ? null : message.key.toString() })
        if (messages.length >= Number(count)) resolveAll()
      },
    })
  }))
  const timer = setTimeout(() => {
    console.error(`only ${messages.length} of ${count} messages after 60s`)
    process.exit(1)
  }, 60000)
  await all
  clearTimeout(timer)
  await new Promise((resolve) => setTimeout(resolve, 1000))
  await Promise.all(consumers.map((c) => c.disconnect()))
  const receivers = new Set(messages.map((m) => m.member))
  console.log(JSON.stringify({ messages, members: receivers.size }))
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
