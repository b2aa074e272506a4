package server

import (
	"testing"
	"time"

	txcv1 "github.com/txcio/txc/proto/txc/v1"
)

// Lazy messages ride in the next frame a push sends, or leave after the
// linger when nothing else comes.
func TestLazyMessagesRideAlong(t *testing.T) {
	c := newConn(1)
	frames := make(chan []uint64, 10)
	go c.writeLoop(func(f *txcv1.ServerFrame) error {
		var ids []uint64
		for _, m := range f.GetMessages() {
			ids = append(ids, m.GetId())
		}
		frames <- ids
		return nil
	}, 1<<20)
	defer c.close()
	msg := func(id uint64) *txcv1.ServerMessage { return &txcv1.ServerMessage{Id: id} }

	old := lazyLinger
	lazyLinger = time.Hour
	c.pushLazy(msg(1))
	select {
	case f := <-frames:
		t.Fatalf("a lazy message woke the writer: %v", f)
	case <-time.After(50 * time.Millisecond):
	}
	c.push(msg(2))
	if f := <-frames; len(f) != 2 || f[0] != 1 || f[1] != 2 {
		t.Fatalf("frame %v, want [1 2]", f)
	}
	lazyLinger = old

	c2 := newConn(2)
	go c2.writeLoop(func(f *txcv1.ServerFrame) error { frames <- []uint64{f.GetMessages()[0].GetId()}; return nil }, 1<<20)
	defer c2.close()
	c2.pushLazy(msg(3))
	select {
	case f := <-frames:
		if f[0] != 3 {
			t.Fatalf("frame %v", f)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a lazy message never left")
	}
}
