package index

// LogDocs returns n of the generated ~1 KiB JSON log documents (gen_test.go)
// from seed, with their keys, for the black-box tests of package index_test.
// Each document's trace_id is unique.
func LogDocs(n int, seed uint64) (docs, keys [][]byte) {
	genStream(n, seed, func(doc, key []byte, _ int64) {
		docs = append(docs, append([]byte(nil), doc...))
		keys = append(keys, append([]byte(nil), key...))
	})
	return docs, keys
}
