package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// stateCollector reads gauges of the core's live state at scrape time,
// through the core loop: nothing is kept up to date between scrapes.
type stateCollector struct {
	s                                  *Server
	live, manual, locked, rms, waiting *prometheus.Desc
}

// StateCollector returns a Prometheus collector of the coordinator's live
// state, read from the core at each scrape (bounded to 2 s; a scrape that
// cannot get the core's answer reports none of these gauges):
//
//	txc_transactions_live{status}                 live transactions by status
//	txc_transactions_needing_manual_action        parked transactions: alert on > 0
//	txc_locked_rows                               rows locked by live transactions
//	txc_rm_streams{resource}                      RM streams serving each resource
//	txc_phase2_waiting_for_rm{resource}           transactions whose phase 2 waits for an RM of the resource
func (s *Server) StateCollector() prometheus.Collector {
	return &stateCollector{s: s,
		live:    prometheus.NewDesc("txc_transactions_live", "Live global transactions, by status.", []string{"status"}, nil),
		manual:  prometheus.NewDesc("txc_transactions_needing_manual_action", "Transactions parked as needing manual action (alert on > 0).", nil, nil),
		locked:  prometheus.NewDesc("txc_locked_rows", "Rows locked by live transactions.", nil, nil),
		rms:     prometheus.NewDesc("txc_rm_streams", "RM streams connected, by resource they serve.", []string{"resource"}, nil),
		waiting: prometheus.NewDesc("txc_phase2_waiting_for_rm", "Transactions whose phase 2 waits for an RM of the resource.", []string{"resource"}, nil),
	}
}

func (sc *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{sc.live, sc.manual, sc.locked, sc.rms, sc.waiting} {
		ch <- d
	}
}

func (sc *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := sc.s.stats(ctx)
	if err != nil {
		return
	}
	_, res, err := sc.s.rms(ctx)
	if err != nil {
		return
	}
	for status, n := range st.ByStatus {
		ch <- prometheus.MustNewConstMetric(sc.live, prometheus.GaugeValue, float64(n), status)
	}
	ch <- prometheus.MustNewConstMetric(sc.manual, prometheus.GaugeValue, float64(st.Manual))
	ch <- prometheus.MustNewConstMetric(sc.locked, prometheus.GaugeValue, float64(st.LockedRows))
	for _, r := range res {
		ch <- prometheus.MustNewConstMetric(sc.rms, prometheus.GaugeValue, float64(len(r.Conns)), r.Resource)
		ch <- prometheus.MustNewConstMetric(sc.waiting, prometheus.GaugeValue, float64(r.Waiting), r.Resource)
	}
}
