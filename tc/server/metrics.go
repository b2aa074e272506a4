package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store"
)

// Metrics are the server's Prometheus instruments, counted as the
// persister sends what the core decided. A nil *Metrics counts nothing.
//
// Transaction names become the "name" label: at most MaxNameLabels
// distinct names are kept, later ones count as "other", so a program that
// names every transaction differently cannot blow up the series count;
// resource IDs and (resource, table) pairs likewise, MaxResourceLabels of
// each.
type Metrics struct {
	begun      *prometheus.CounterVec
	finished   *prometheus.CounterVec
	requests   *prometheus.CounterVec
	conflicts  *prometheus.CounterVec
	commands   *prometheus.CounterVec
	repeats    *prometheus.CounterVec
	phase2     *prometheus.HistogramVec
	retries    *prometheus.CounterVec
	manual     *prometheus.CounterVec
	timeouts   *prometheus.CounterVec
	operator   *prometheus.CounterVec
	denied     *prometheus.CounterVec
	streams    prometheus.Gauge
	syncs      prometheus.Histogram
	batchItems prometheus.Histogram

	names     *boundedLabels
	resources *boundedLabels
	tables    *boundedLabels // resource and table, NUL-separated
}

// MaxNameLabels bounds the distinct transaction names used as labels.
const MaxNameLabels = 200

// MaxResourceLabels bounds the distinct resource IDs, and the distinct
// pairs of resource and table, used as labels.
const MaxResourceLabels = 200

// NewMetrics creates the instruments and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	m := &Metrics{
		begun:     counter("txc_transactions_begun_total", "Global transactions begun, by name.", "name"),
		finished:  counter("txc_transactions_finished_total", "Global transactions that reached a final status (Committed, Rollbacked, TimeoutRollbacked), by name and status.", "name", "status"),
		requests:  counter("txc_requests_total", "Requests answered, by kind and error code.", "kind", "code"),
		conflicts: counter("txc_lock_conflicts_total", "Branch registrations refused for rows held by another transaction, by resource and table.", "resource", "table"),
		commands:  counter("txc_phase2_commands_total", "Phase-2 commands sent to resource managers, by action.", "action"),
		repeats:   counter("txc_phase2_repeats_total", "Phase-2 commands that may repeat one sent before: again (this node sent one that went unanswered or failed) or restored (the decision came from the store after a restart or takeover).", "cause"),
		phase2: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "txc_phase2_seconds",
			Help:    "Time from sending a phase-2 command to the RM's answer, by resource, branch type, action and outcome (done, retryable, unretryable).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"resource", "branch_type", "action", "outcome"}),
		retries:  counter("txc_phase2_retries_total", "Phase-2 attempts that failed, went unanswered or found no RM, and will be retried; by resource and branch type.", "resource", "branch_type"),
		manual:   counter("txc_manual_action_total", "Transactions parked as needing manual action, by name, resource and branch type of the failed branch.", "name", "resource", "branch_type"),
		timeouts: counter("txc_timeouts_total", "Transactions rolled back because their deadline passed, by name.", "name"),
		operator: counter("txc_operator_actions_total", "Operator actions on parked transactions (retry, resolve).", "action"),
		denied:   counter("txc_permission_denied_total", "Requests refused by the access policy or for want of a credential, by port (grpc, admin) and request kind.", "port", "kind"),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{Name: "txc_streams",
			Help: "Client sessions connected."}),
		syncs: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "txc_store_sync_seconds",
			Help: "Time to make one batch durable.", Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16)}),
		batchItems: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "txc_store_batch_items",
			Help: "Changes per durable batch (group commit).", Buckets: prometheus.ExponentialBuckets(1, 2, 14)}),
		names:     newBoundedLabels(MaxNameLabels),
		resources: newBoundedLabels(MaxResourceLabels),
		tables:    newBoundedLabels(MaxResourceLabels),
	}
	reg.MustRegister(m.begun, m.finished, m.requests, m.conflicts, m.commands, m.repeats, m.phase2, m.retries, m.manual,
		m.timeouts, m.operator, m.denied, m.streams, m.syncs, m.batchItems)
	return m
}

// nameLabel is the label for transaction name n (see Metrics).
func (m *Metrics) nameLabel(n string) string { return m.names.label(n) }

// resourceLabel is the label for resource ID r (see Metrics).
func (m *Metrics) resourceLabel(r string) string { return m.resources.label(r) }

// conflictLabels are the labels for a conflict on table of resource (see
// Metrics): both, or both "other".
func (m *Metrics) conflictLabels(resource, table string) (string, string) {
	if m.tables.label(resource+"\x00"+table) == "other" {
		return "other", "other"
	}
	return resource, table
}

func (m *Metrics) observeSync(d time.Duration, b *store.Batch) {
	if m == nil {
		return
	}
	m.syncs.Observe(d.Seconds())
	m.batchItems.Observe(float64(len(b.PutGlobals) + len(b.PutBranches) + len(b.SetBranchStatus) +
		len(b.DeleteBranches) + len(b.DeleteGlobals)))
}

func (m *Metrics) observeReply(r *tc.Reply) {
	if m == nil {
		return
	}
	code := txc.CodeOf(r.Err)
	m.requests.WithLabelValues(r.Kind.String(), code.String()).Inc()
	if r.Kind == tc.KindBegin && code == txc.CodeOK {
		m.begun.WithLabelValues(m.nameLabel(r.Name)).Inc()
	}
}

func (m *Metrics) observeCommand(cmd *tc.Command) {
	if m != nil {
		m.commands.WithLabelValues(cmd.Action.String()).Inc()
		if cmd.Repeat != tc.RepeatNone {
			m.repeats.WithLabelValues(cmd.Repeat.String()).Inc()
		}
	}
}

// phase2Outcome names what an RM's phase-2 answer means.
func phase2Outcome(s txc.BranchStatus) string {
	switch s {
	case txc.BranchCommitted, txc.BranchRollbacked:
		return "done"
	case txc.BranchCommitFailedUnretryable, txc.BranchRollbackFailedUnretryable:
		return "unretryable"
	}
	return "retryable"
}

func (m *Metrics) observeEvent(e *tc.Event) {
	if m == nil {
		return
	}
	switch e.Kind {
	case tc.EventFinished:
		m.finished.WithLabelValues(m.nameLabel(e.Name), e.Status.String()).Inc()
	case tc.EventRetry:
		m.retries.WithLabelValues(m.resourceLabel(e.ResourceID), e.BranchType.String()).Inc()
	case tc.EventManualAction:
		m.manual.WithLabelValues(m.nameLabel(e.Name), m.resourceLabel(e.ResourceID), e.BranchType.String()).Inc()
	case tc.EventTimeout:
		m.timeouts.WithLabelValues(m.nameLabel(e.Name)).Inc()
	case tc.EventPhase2:
		m.phase2.WithLabelValues(m.resourceLabel(e.ResourceID), e.BranchType.String(), e.Action.String(), phase2Outcome(e.BranchStatus)).Observe(e.Latency.Seconds())
	case tc.EventLockConflict:
		m.conflicts.WithLabelValues(m.conflictLabels(e.ResourceID, e.Table)).Inc()
	case tc.EventOperator:
		m.operator.WithLabelValues(e.Op).Inc()
	}
}

func (m *Metrics) connected(delta float64) {
	if m != nil {
		m.streams.Add(delta)
	}
}

// refused counts a request refused by access control.
func (m *Metrics) refused(port, kind string) {
	if m != nil {
		m.denied.WithLabelValues(port, kind).Inc()
	}
}
