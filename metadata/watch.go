package metadata

import "sync"

// hub fans topic change notices out to watchers. Each watcher has its own
// goroutine and unbounded queue, so a slow callback delays only itself and
// publish never blocks a writer.
type hub struct {
	mu       sync.Mutex // guards watchers and closed
	watchers map[*watcher]struct{}
	closed   bool
	wg       sync.WaitGroup // one count per running watcher goroutine
}

type watcher struct {
	fn   func(Topic)
	stop chan struct{} // closed by cancel or hub.close
	once sync.Once
	wake chan struct{} // capacity 1: queue became non-empty

	mu    sync.Mutex // guards queue
	queue []Topic
}

func newHub() *hub { return &hub{watchers: make(map[*watcher]struct{})} }

// watch registers fn and starts its goroutine. After close it returns a
// cancel that does nothing.
func (h *hub) watch(fn func(Topic)) func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return func() {}
	}
	w := &watcher{fn: fn, stop: make(chan struct{}), wake: make(chan struct{}, 1)}
	h.watchers[w] = struct{}{}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		w.run()
	}()
	return func() {
		h.mu.Lock()
		delete(h.watchers, w)
		h.mu.Unlock()
		w.cancel()
	}
}

// publish queues t for every watcher. Callers serialise publish calls (they
// hold the store's write lock), which gives every watcher commit order.
func (h *hub) publish(t Topic) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.watchers {
		w.mu.Lock()
		w.queue = append(w.queue, t)
		w.mu.Unlock()
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// close stops every watcher and waits for their goroutines (and any callback
// in progress) to return. Queued notices are dropped.
func (h *hub) close() {
	h.mu.Lock()
	h.closed = true
	for w := range h.watchers {
		w.cancel()
	}
	h.watchers = nil
	h.mu.Unlock()
	h.wg.Wait()
}

func (w *watcher) cancel() { w.once.Do(func() { close(w.stop) }) }

func (w *watcher) run() {
	for {
		select {
		case <-w.stop:
			return
		case <-w.wake:
		}
		w.mu.Lock()
		batch := w.queue
		w.queue = nil
		w.mu.Unlock()
		for i, t := range batch {
			select {
			case <-w.stop:
				return
			default:
			}
			w.fn(t)
			batch[i] = Topic{}
		}
	}
}
