package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// A connection to the admin port that sits idle after a request, or
// never finishes sending its body, is closed after adminIdle or
// adminRead instead of being held for ever.
func TestAdminConnectionsDoNotLinger(t *testing.T) {
	idle, read := adminIdle, adminRead
	adminIdle, adminRead = 300*time.Millisecond, 300*time.Millisecond
	t.Cleanup(func() { adminIdle, adminRead = idle, read })
	srv := newAdminServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("ok\n"))
	}))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(func() { srv.Close() })

	closedSoon := func(what, request string, readResponse bool) {
		t.Helper()
		c, err := net.Dial("tcp", lis.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, request); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		if readResponse {
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		for {
			if _, err := br.ReadByte(); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Errorf("%s: still open after 3 s", what)
				}
				return
			}
		}
	}
	closedSoon("idle after a request", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", true)
	closedSoon("a body never sent", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", false)
}
