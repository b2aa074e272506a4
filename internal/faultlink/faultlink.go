// Package faultlink is a TCP link between a process and a server that a
// test can cut, as a failed network link would: for tests only.
package faultlink

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Link forwards TCP connections to a target until cut: then it closes
// every connection it carries and refuses new ones, until mended.
type Link struct {
	lis    net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]struct{}
}

// Start listens on a free loopback port and forwards to target; the link
// is cut for good when the test ends.
func Start(t testing.TB, target string) *Link {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &Link{lis: lis, target: target, conns: map[net.Conn]struct{}{}}
	go l.accept()
	t.Cleanup(func() { lis.Close(); l.SetCut(true) })
	return l
}

// Addr is the address to dial instead of the target.
func (l *Link) Addr() string { return l.lis.Addr().String() }

// SetCut cuts the link (closing what it carries) or mends it.
func (l *Link) SetCut(cut bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = cut
	if cut {
		for c := range l.conns {
			c.Close()
		}
		clear(l.conns)
	}
}

func (l *Link) accept() {
	for {
		c, err := l.lis.Accept()
		if err != nil {
			return
		}
		go l.carry(c)
	}
}

func (l *Link) carry(c net.Conn) {
	up, err := net.Dial("tcp", l.target)
	if err != nil || !l.track(c, up) {
		c.Close()
		if up != nil {
			up.Close()
		}
		return
	}
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
}

// track registers a carried pair unless the link is cut.
func (l *Link) track(a, b net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cut {
		return false
	}
	l.conns[a], l.conns[b] = struct{}{}, struct{}{}
	return true
}
