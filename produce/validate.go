package produce

import (
	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/metadata"
	"github.com/chronik-go/chronik/record"
)

// validator returns the record.Validator for a topic's settings now.
func (h *Handler) validator(t *metadata.Topic, p *partition) record.Validator {
	return record.Validator{
		Now:                  h.now().UnixMilli(),
		MaxMessageBytes:      int(t.Config.MaxMessageBytes),
		LogAppendTime:        t.Config.TimestampType == metadata.TimestampLogAppendTime,
		Compacted:            t.Config.Compacted(),
		TimestampBeforeMaxMs: t.Config.TimestampBeforeMaxMs,
		TimestampAfterMaxMs:  t.Config.TimestampAfterMaxMs,
		Limit:                h.cfg.MaxDecompressedBatchBytes,
		Partition:            p.label,
		CollectKeys:          true,
	}
}

// targetCodec is the codec the batch is stored in: the topic's
// compression.type, where "producer" defers to Config.CompressionType, and
// "producer" there keeps the batch's own codec (kafka-semantics.md §2.4).
func (h *Handler) targetCodec(t *metadata.Topic, batch compress.Codec) compress.Codec {
	name := t.Config.CompressionType
	if name == "" || name == metadata.CompressionProducer {
		name = h.cfg.CompressionType
	}
	if name == metadata.CompressionProducer {
		return batch
	}
	c, err := compress.ParseCodec(name)
	if err != nil {
		return batch
	}
	return c
}

// prepare turns a validated batch into the bytes the log stores: rebuilt
// with the target codec when Kafka would rebuild it (the codec differs, or
// a compressed batch's inner offsets are not 0..n-1), then maxTimestamp
// set: the append time with the LogAppendTime bit for LogAppendTime
// topics, else the largest record timestamp. The CRC is recomputed only
// when a covered field changed. raw is the decompressed records section of
// a compressed batch (the validator's scratch).
func (h *Handler) prepare(res *record.BatchResult, t *metadata.Topic, raw []byte, v *record.Validator) ([]byte, error) {
	b := res.Batch
	target := h.targetCodec(t, res.Header.Codec())
	if res.NeedsRebuild(target) {
		if res.Header.Codec() == compress.None {
			raw = b[record.HeaderSize:]
		}
		nb, err := record.Rebuild(nil, &res.Header, raw, target, 0)
		if err != nil {
			return nil, err
		}
		if v.MaxMessageBytes > 0 && len(nb) > v.MaxMessageBytes {
			return nil, record.TooLarge(v.Partition, len(nb), v.MaxMessageBytes)
		}
		b = nb
	}
	// SetMaxTimestamp writes (and recomputes the CRC) only when something
	// changes; on a CreateTime topic it also clears a client's
	// LogAppendTime bit, as Kafka's in-place validation does.
	if v.LogAppendTime {
		record.SetMaxTimestamp(b, v.Now, true)
	} else {
		record.SetMaxTimestamp(b, res.MaxTimestamp, false)
	}
	return b, nil
}
