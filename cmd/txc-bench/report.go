package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"
)

// result is the figure of one run; printed last as one JSON line.
type result struct {
	Scenario string  `json:"scenario"`
	Clients  int     `json:"clients"`
	Tx       int     `json:"tx"`
	Errors   int     `json:"errors"`
	Seconds  float64 `json:"seconds"`
	TxPerSec float64 `json:"tx_per_sec"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
}

// latencies merges per-client samples and reads percentiles.
type latencies []time.Duration

func (l latencies) percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	i := int(p * float64(len(l)-1))
	return l[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func report(w io.Writer, r result, lat latencies) error {
	slices.Sort(lat)
	r.P50ms, r.P99ms = ms(lat.percentile(0.50)), ms(lat.percentile(0.99))
	fmt.Fprintf(w, "scenario   %s\nclients    %d\ncommitted  %d in %.1fs (%d errors)\nthroughput %.0f tx/s\nlatency    p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n",
		r.Scenario, r.Clients, r.Tx, r.Seconds, r.Errors, r.TxPerSec, r.P50ms, ms(lat.percentile(0.90)), r.P99ms, ms(lat.percentile(1)))
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(line))
	return err
}
