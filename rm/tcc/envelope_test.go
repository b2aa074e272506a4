package tcc

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/rm"
)

type envArgs struct {
	C int `json:"c"`
	N int `json:"n"`
}

func TestDecodeEnvelope(t *testing.T) {
	bin, err := encodeArgs("reserve", envArgs{3, 7})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, data, p, a string
		v                int
		newer, fails     bool
	}{
		{name: "binary", data: string(bin), v: 2, p: "reserve", a: `{"c":3,"n":7}`},
		{name: "binary, empty arguments", data: "\x02\x01p", v: 2, p: "p", a: ""},
		{name: "json", data: `{"v":1,"p":"reserve","a":{"c":3}}`, v: 1, p: "reserve", a: `{"c":3}`},
		{name: "json, newer", data: `{"v":2,"p":"reserve","a":{}}`, newer: true, fails: true},
		{name: "json, no participant", data: `{"v":1,"a":{}}`, fails: true},
		{name: "json, malformed", data: `{"v":1,`, fails: true},
		{name: "binary, newer", data: "\x03\x01p{}", newer: true, fails: true},
		{name: "binary, bad length", data: "\x02\x05p{}", fails: true},
		{name: "empty", data: "", fails: true},
	} {
		e, newer, err := decodeEnvelope([]byte(tc.data))
		if (err != nil) != tc.fails || newer != tc.newer {
			t.Errorf("%s: newer %v, err %v", tc.name, newer, err)
			continue
		}
		if !tc.fails && (e.V != tc.v || string(e.P) != tc.p || string(e.A) != tc.a) {
			t.Errorf("%s: %d %q %q, want %d %q %q", tc.name, e.V, e.P, e.A, tc.v, tc.p, tc.a)
		}
	}
}

// TestDecodeBinaryEnvelopeAllocs: reading the binary frame, done on every
// Confirm and Cancel, allocates nothing.
func TestDecodeBinaryEnvelopeAllocs(t *testing.T) {
	data, err := encodeArgs("reserve", envArgs{3, 7})
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := decodeEnvelope(data); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("decodeEnvelope of a binary frame: %v allocations, want 0", allocs)
	}
}

// TestFinishLogsAtDebugOnly: the phase-2 delivery is logged when the
// logger is at debug, and not otherwise.
func TestFinishLogsAtDebugOnly(t *testing.T) {
	data, err := encodeArgs("reserve", envArgs{3, 7})
	if err != nil {
		t.Fatal(err)
	}
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		var buf bytes.Buffer
		r := &Resource{id: "tcc:t", parts: map[string]declared{},
			log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level}))}
		var got envArgs
		if err := r.add("reserve", func(_ context.Context, _ Branch, commit bool, raw []byte) error {
			got, err = decodeArgs[envArgs]("reserve", raw)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		b := rm.Branch{XID: "n1:5", ID: 6, Type: txc.BranchTCC, ResourceID: "tcc:t", ApplicationData: data}
		if err := r.finish(t.Context(), b, true); err != nil {
			t.Fatal(err)
		}
		if got != (envArgs{3, 7}) {
			t.Errorf("arguments %+v", got)
		}
		logged := strings.Contains(buf.String(), `msg="tcc: phase 2 delivery" confirm=true xid=n1:5 branch=6 participant=reserve`)
		if logged != (level == slog.LevelDebug) {
			t.Errorf("level %v: log %q", level, buf.String())
		}
	}
}

func BenchmarkDecodeBinaryEnvelope(b *testing.B) {
	data, err := encodeArgs("reserve", envArgs{3, 7})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := decodeEnvelope(data); err != nil {
			b.Fatal(err)
		}
	}
}
