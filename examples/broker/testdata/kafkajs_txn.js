// Runs the transaction script of the example broker's tests with a kafkajs
// transactional producer.
//
// Usage: node kafkajs_txn.js BROKER TOPIC TRANSACTIONAL_ID GROUP
//
// Transaction c1 commits three records to partition 0, a2 aborts three
// records on each of partitions 0 and 1, c3 commits three records on each
// partition. Record i of partition p of transaction L has key "L-p<p>-<i>".
// a2 also sends offset 7, and c3 offset 42, of TOPIC partition 0 for
// consumer group GROUP (AddOffsetsToTxn + TxnOffsetCommit): the Go test
// checks that the group's committed offset is 42.
'use strict'

const { Kafka, logLevel } = require('kafkajs')

const [broker, topic, transactionalId, group] = process.argv.slice(2)

const script = [
  { label: 'c1', commit: true, partitions: [0] },
  { label: 'a2', commit: false, partitions: [0, 1], offset: '7' },
  { label: 'c3', commit: true, partitions: [0, 1], offset: '42' },
]

async function main () {
  const kafka = new Kafka({ clientId: 'chronik-test', brokers: [broker], logLevel: logLevel.ERROR, retry: { retries: 10 } })
  const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  try {
    for (const tx of script) {
      const txn = await producer.transaction()
      for (const partition of tx.partitions) {
        const messages = []
        for (let i = 0; i < 3; i++) {
          const key = `${tx.label}-p${partition}-${i}`
          messages.push({ key, value: `v-${key}`, partition })
        }
        await txn.send({ topic, messages })
      }
      if (tx.offset !== undefined) {
        await txn.sendOffsets({ consumerGroupId: group, topics: [{ topic, partitions: [{ partition: 0, offset: tx.offset }] }] })
      }
      if (tx.commit) {
        await txn.commit()
      } else {
        await txn.abort()
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
